"""``/namespaces/{ns}/alarms/{trigger}``: the provider API the ``/whisk.system/alarms`` feed actions call
(CREATE/UPDATE = PUT, READ = GET, DELETE, PAUSE/UNPAUSE = POST with a status)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import NS, Api, MakeApi, error, ok

pytestmark = pytest.mark.api

ALARMS = f"{NS}/alarms"


def test_alarm_lifecycle(api: Api) -> None:
    api.trigger("t")
    created = ok(api.put(f"{ALARMS}/t", {"kind": "interval", "minutes": 5, "trigger_payload": {"x": 1},
                                         "lifecycleEvent": "CREATE", "authKey": "ignored"}))
    assert created["config"] == {"name": "t", "namespace": api.ns, "trigger_payload": {"x": 1}, "minutes": 5}
    status = created["status"]
    assert status["active"] is True and status["fired"] == 0
    assert status["nextFire"] == status["dateChanged"] + 5 * 60_000
    assert ok(api.get(f"{ALARMS}/t")) == created

    again = api.put(f"{ALARMS}/t", {"kind": "interval", "minutes": 5})
    assert error(again, 409) == f"an alarm for trigger /{api.ns}/t already exists"
    updated = ok(api.put(f"{ALARMS}/t", {"kind": "alarm", "cron": "0 * * * *"}, query={"overwrite": "true"}))
    assert updated["config"] == {"name": "t", "namespace": api.ns, "trigger_payload": {}, "cron": "0 * * * *"}

    assert ok(api.post(f"{ALARMS}/t", {"status": "paused"})) == {"ok": True}
    assert ok(api.get(f"{ALARMS}/t"))["status"]["active"] is False
    assert ok(api.post(f"{ALARMS}/t", {"status": "active"})) == {"ok": True}
    assert ok(api.get(f"{ALARMS}/t"))["status"]["active"] is True

    deleted = ok(api.delete(f"{ALARMS}/t"))
    assert deleted["config"]["cron"] == "0 * * * *"
    gone = f"there is no alarm for trigger /{api.ns}/t"
    assert error(api.get(f"{ALARMS}/t"), 404) == gone
    assert error(api.delete(f"{ALARMS}/t"), 404) == gone
    assert error(api.post(f"{ALARMS}/t", {"status": "paused"}), 404) == gone


def test_an_alarm_needs_its_trigger(api: Api) -> None:
    response = api.put(f"{ALARMS}/nothing", {"kind": "interval", "minutes": 1})
    assert error(response, 404) == f"trigger /{api.ns}/nothing does not exist"
    api.action("a")
    assert error(api.put(f"{ALARMS}/a", {"kind": "interval", "minutes": 1}), 404) == \
        f"trigger /{api.ns}/a does not exist"
    api.trigger("t")
    updating = api.put(f"{ALARMS}/t", {"kind": "interval", "minutes": 1}, query={"overwrite": "true"})
    assert error(updating, 404) == f"there is no alarm for trigger /{api.ns}/t"


@pytest.mark.parametrize(("body", "message"), [
    ({}, "unknown alarm kind '', must be one of ['alarm', 'interval', 'once']"),
    ({"kind": "weekly"}, "unknown alarm kind 'weekly', must be one of ['alarm', 'interval', 'once']"),
    ({"kind": "alarm"}, "alarms trigger feeds must specify a cron expression"),
    ({"kind": "alarm", "cron": "every minute"}, "cron pattern 'every minute' is not valid"),
    ({"kind": "alarm", "cron": "* * * * *", "timezone": "Mars/Olympus"}, "Invalid timezone 'Mars/Olympus'"),
    ({"kind": "interval", "minutes": 0}, "interval trigger feeds must specify 'minutes' as a positive integer"),
    ({"kind": "once"}, "once trigger feeds must specify a date"),
    ({"kind": "once", "date": "2000-01-01"}, "date parameter '2000-01-01' must be sometime in the future"),
    ({"kind": "once", "date": "soon"}, "date parameter 'soon' is not a valid Date"),
    ({"kind": "interval", "minutes": 1, "trigger_payload": [1]}, "trigger_payload must be a JSON object"),
])
def test_bad_parameters_are_400(api: Api, body: dict[str, Any], message: str) -> None:
    api.trigger("t")
    assert error(api.put(f"{ALARMS}/t", body), 400) == message
    error(api.get(f"{ALARMS}/t"), 404)


@pytest.mark.parametrize(("method", "body", "message"), [
    ("POST", {"status": "stopped"}, "'stopped' is not a recognized alarm state, must be one of ['active', 'paused']"),
    ("PUT", [1], "The request content was malformed:\nexpected a JSON object"),
    ("POST", [1], "The request content was malformed:\nexpected a JSON object"),
])
def test_bad_bodies_are_400(api: Api, method: str, body: Any, message: str) -> None:
    api.trigger("t")
    ok(api.put(f"{ALARMS}/t", {"kind": "interval", "minutes": 1}))
    assert error(api.request(method, f"{ALARMS}/t", json=body), 400) == message


def test_another_namespaces_alarms_are_403(api: Api) -> None:
    api.trigger("t")
    ok(api.put(f"{ALARMS}/t", {"kind": "interval", "minutes": 1}))
    theirs = f"/api/v1/namespaces/{api.ns}/alarms/t"
    denied = f"The supplied authentication is not authorized to access '{api.ns}/t'."
    assert error(api.get(theirs, auth=api.other), 403) == denied
    assert error(api.delete(theirs, auth=api.other), 403) == denied
    assert ok(api.get(f"{ALARMS}/t"))["status"]["active"] is True


def test_bodies_over_the_payload_limit_are_413(make_api: MakeApi) -> None:
    api = make_api(limits={"payload_bytes": 50})
    body = '{"kind": "interval", "minutes": 1, "trigger_payload": {"x": "yyyy"}}'
    assert error(api.put(f"{ALARMS}/t", data=body), 413) == f"Request larger than allowed: {len(body)} > 50 bytes."
