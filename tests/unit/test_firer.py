"""What the scheduler does with each answer to a fire, and claims racing each other."""

from __future__ import annotations

import httpx
import pytest

from app.core.alarms import PAUSED, Alarm, parse_alarm
from app.core.errors import Conflict
from app.core.names import EntityPath
from app.core.services.alarms import AlarmService
from app.scheduler.firer import DUE_HEADER, AlarmFirer, RetryableFire
from tests.fakes import DictAlarmStore, DictEntityStore

pytestmark = pytest.mark.unit

NOW = 1_800_000_000_000


def setup(status: int, **params: object) -> tuple[AlarmFirer, DictAlarmStore, list[httpx.Request]]:
    store = DictAlarmStore()
    kind = "once" if "date" in params else "alarm"
    store.put_alarm(parse_alarm(kind, EntityPath("guest", "t"), "uuid:key", {"cron": "* * * * *", **params},
                                NOW).to_doc())
    seen: list[httpx.Request] = []

    def controller(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET":
            return httpx.Response(200, json={"rules": {"guest/r1": {}, "guest/r2": {}}})
        if request.method == "DELETE":
            return httpx.Response(200, json={})
        return httpx.Response(status, json={"activationId": "a" * 32} if status == 202 else {"error": "x"})

    service = AlarmService(DictEntityStore(), store, clock=lambda: NOW)
    return AlarmFirer("http://controller", service, transport=httpx.MockTransport(controller)), store, seen


def test_a_fire_posts_the_payload_as_the_owner_with_the_slot() -> None:
    firer, store, seen = setup(202)
    firer.fire("guest/t", "uuid:key", {"a": 1}, NOW + 60_000)
    [request] = seen
    assert request.url.path == "/api/v1/namespaces/guest/triggers/t"
    assert request.headers[DUE_HEADER] == str(NOW + 60_000)
    assert request.headers["authorization"] == httpx.BasicAuth("uuid", "key")._auth_header
    assert request.content == b'{"a":1}'
    assert "guest/t" in store.docs


def test_no_active_rule_is_a_fire_too() -> None:
    firer, store, _ = setup(204)
    firer.fire("guest/t", "uuid:key", {}, NOW)
    assert "guest/t" in store.docs


def test_a_deleted_trigger_drops_the_schedule() -> None:
    firer, store, _ = setup(404)
    firer.fire("guest/t", "uuid:key", {}, NOW)
    assert store.docs == {}


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_pauses_the_schedule(status: int) -> None:
    firer, store, _ = setup(status)
    firer.fire("guest/t", "uuid:key", {}, NOW)
    assert store.docs["guest/t"]["status"] == PAUSED


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttled_or_failing_controller_is_retryable(status: int) -> None:
    firer, store, _ = setup(status)
    with pytest.raises(RetryableFire):
        firer.fire("guest/t", "uuid:key", {}, NOW)
    assert store.docs["guest/t"]["status"] == "active"


def test_no_answer_is_retryable() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    firer = AlarmFirer("http://controller", AlarmService(DictEntityStore(), DictAlarmStore()),
                       transport=httpx.MockTransport(down))
    with pytest.raises(RetryableFire):
        firer.fire("guest/t", "uuid:key", {}, NOW)


def test_once_with_delete_after_fire_rules_deletes_rules_then_trigger_then_schedule() -> None:
    firer, store, seen = setup(202, date=NOW + 1000, deleteAfterFire="rules")
    firer.fire("guest/t", "uuid:key", {}, NOW + 1000, "rules")
    assert [(r.method, r.url.path) for r in seen] == [
        ("POST", "/api/v1/namespaces/guest/triggers/t"),
        ("GET", "/api/v1/namespaces/guest/triggers/t"),
        ("DELETE", "/api/v1/namespaces/guest/rules/r1"),
        ("DELETE", "/api/v1/namespaces/guest/rules/r2"),
        ("DELETE", "/api/v1/namespaces/guest/triggers/t"),
    ]
    assert store.docs == {}


def test_two_schedulers_claim_one_slot_once() -> None:
    store = DictAlarmStore()
    store.put_alarm(parse_alarm("alarm", EntityPath("guest", "t"), "u:k", {"cron": "*/2 * * * * *"}, NOW).to_doc())
    first = AlarmService(DictEntityStore(), store, clock=lambda: NOW + 2000)
    second = AlarmService(DictEntityStore(), store, clock=lambda: NOW + 2000)
    stale = store.due_alarms(NOW + 2000, 10)
    assert [d.due for d in first.claim_due()] == [NOW + 2000]
    assert second.claim_due() == []  # nothing due any more
    with pytest.raises(Conflict):
        store.put_alarm(Alarm.from_doc(stale[0]).claimed(NOW + 2000).to_doc())  # a claim from the old read loses
    assert Alarm.from_doc(store.get_alarm("guest/t")).next_fire == NOW + 4000
