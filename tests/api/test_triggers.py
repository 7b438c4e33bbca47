"""``/namespaces/{ns}/triggers``: CRUD, and firing (204 with no active rule, else 202, the trigger's record with a
log line per rule, each rule's action invoked as the caller)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import NS, Api, MakeApi, error, kv, next_ms, ok

pytestmark = pytest.mark.api

TRIGGERS = f"{NS}/triggers"


def rule_lines(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in record["logs"]]


def test_trigger_crud(api: Api) -> None:
    created = api.trigger("t", parameters=kv(a=1), annotations=kv(x="y"))
    assert created == {"namespace": api.ns, "name": "t", "version": "0.0.1", "publish": False,
                       "annotations": kv(x="y"), "parameters": kv(a=1), "limits": {}, "updated": created["updated"]}
    assert ok(api.get(f"{TRIGGERS}/t")) == created
    assert error(api.put(f"{TRIGGERS}/t", {}), 409) == "resource already exists"
    updated = ok(api.put(f"{TRIGGERS}/t", {"parameters": kv(b=2)}, query={"overwrite": "true"}))
    assert updated["parameters"] == kv(b=2) and updated["annotations"] == kv(x="y")  # given fields replace
    assert updated["version"] == "0.0.2"
    deleted = ok(api.delete(f"{TRIGGERS}/t"))
    assert deleted["name"] == "t" and deleted["version"] == "0.0.2"
    assert error(api.get(f"{TRIGGERS}/t"), 404) == "The requested resource does not exist."
    assert error(api.delete(f"{TRIGGERS}/t"), 404) == "The requested resource does not exist."
    assert error(api.post(f"{TRIGGERS}/t", {}), 404) == "The requested resource does not exist."


def test_list_newest_first_with_paging_and_count(api: Api) -> None:
    for name in ("c", "b", "a"):
        api.trigger(name)
        next_ms()
    listed = ok(api.get(TRIGGERS))
    assert [t["name"] for t in listed] == ["a", "b", "c"]
    assert set(listed[0]) == {"namespace", "name", "version", "publish", "annotations", "updated"}
    assert [t["name"] for t in ok(api.get(TRIGGERS, query={"skip": 1, "limit": 1}))] == ["b"]
    assert ok(api.get(TRIGGERS, query={"count": "true"})) == {"triggers": 3}


@pytest.mark.parametrize("annotations", [kv(feed="/no/such/feed/x/y"), kv(feed=5), kv(feed="/")])
def test_a_bad_feed_name_is_400(api: Api, annotations: list[dict[str, Any]]) -> None:
    response = api.put(f"{TRIGGERS}/f", {"annotations": annotations})
    assert error(response, 400) == "Feed name is not valid"
    error(api.get(f"{TRIGGERS}/f"), 404)


@pytest.mark.parametrize(("name", "message"), [
    ("%20t", "The name of the entity contains illegal characters."),
    ("t" * 257, "Name segement longer than allowed: 257 > 256."),
])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "POST"])
def test_illegal_names_are_400(api: Api, name: str, message: str, method: str) -> None:
    assert error(api.request(method, f"{TRIGGERS}/{name}", json={}), 400) == message


def test_reading_another_kind_of_entity_is_409(api: Api) -> None:
    api.action("a")
    assert error(api.get(f"{TRIGGERS}/a"), 409) == "Resource by this name exists but is not in this collection."


def test_fire_without_an_active_rule_is_204_and_stores_nothing(api: Api) -> None:
    api.trigger("t")
    response = api.post(f"{TRIGGERS}/t", {"x": 1})
    assert response.status_code == 204 and response.get_data() == b""
    assert ok(api.get(f"{NS}/activations")) == []


def test_fire_runs_active_rules_and_records_the_trigger_activation(api: Api) -> None:
    api.action("a")
    api.trigger("t", parameters=kv(fromTrigger="t", both="trigger"))
    api.rule("r", "/_/t", "/_/a")
    assert ok(api.get(f"{TRIGGERS}/t"))["rules"] == {
        f"{api.ns}/r": {"action": {"path": api.ns, "name": "a"}, "status": "active"}}

    fired = api.post(f"{TRIGGERS}/t", {"both": "payload", "p": 1}, headers={"X-Custom": "yes"})
    trigger_id = ok(fired, 202)["activationId"]
    assert fired.headers["x-openwhisk-activation-id"] == trigger_id
    record = ok(api.get(f"{NS}/activations/{trigger_id}"))
    assert record["name"] == "t" and record["namespace"] == api.ns and record["subject"] == api.ns
    assert "end" not in record and "duration" not in record
    assert record["response"]["result"] == {"both": "payload", "p": 1}  # the payload, not merged
    [line] = rule_lines(record)
    assert set(line) == {"rule", "action", "statusCode", "success", "activationId"}
    assert line["rule"] == f"{api.ns}/r" and line["action"] == f"{api.ns}/a"
    assert line["statusCode"] == 0 and line["success"] is True

    action_record = ok(api.get(f"{NS}/activations/{line['activationId']}"))
    result = action_record["response"]["result"]
    assert result["fromTrigger"] == "t" and result["both"] == "payload" and result["p"] == 1
    assert result["__ow_headers"]["x-custom"] == "yes"
    assert "authorization" not in result["__ow_headers"]  # the caller's key never reaches the action
    sent = api.dispatcher.message(line["activationId"])
    assert sent.blocking is False and sent.namespace == api.ns


def test_firing_a_rule_whose_action_was_deleted_logs_the_error(api: Api) -> None:
    api.action("a")
    api.trigger("t")
    api.rule("r", "/_/t", "/_/a")
    api.rule("off", "/_/t", "/_/a")
    ok(api.post(f"{NS}/rules/off", {"status": "inactive"}))
    ok(api.delete(f"{NS}/actions/a"))
    trigger_id = ok(api.post(f"{TRIGGERS}/t", {}), 202)["activationId"]
    lines = {line["rule"]: line for line in rule_lines(ok(api.get(f"{NS}/activations/{trigger_id}")))}
    assert lines[f"{api.ns}/r"] == {"rule": f"{api.ns}/r", "action": f"{api.ns}/a", "statusCode": 1,
                                    "success": False, "error": "The requested resource does not exist."}
    assert lines[f"{api.ns}/off"] == {
        "rule": f"{api.ns}/off", "action": f"{api.ns}/a", "statusCode": 1, "success": False,
        "error": f"Rule '{api.ns}/off' is inactive, action '{api.ns}/a' was not activated."}


def test_a_rule_whose_invoker_is_unavailable_is_logged_as_a_whisk_error(api: Api) -> None:
    api.action("a")
    api.trigger("t")
    api.rule("r", "/_/t", "/_/a")
    api.dispatcher.unavailable = True
    trigger_id = ok(api.post(f"{TRIGGERS}/t", {}), 202)["activationId"]
    [line] = rule_lines(ok(api.get(f"{NS}/activations/{trigger_id}")))
    assert line["statusCode"] == 3 and line["success"] is False
    assert line["error"].startswith("The server is currently unavailable")


@pytest.mark.parametrize(("body", "message"), [
    (b"[1]", "The request content was malformed:\nthe payload must be a JSON object"),
    (b"{", "The request content was malformed:\n"),
])
def test_fire_with_a_payload_that_is_not_an_object_is_400(api: Api, body: bytes, message: str) -> None:
    api.trigger("t")
    assert error(api.post(f"{TRIGGERS}/t", data=body), 400).startswith(message)


def test_payload_limits_are_413(make_api: MakeApi) -> None:
    api = make_api(limits={"payload_bytes": 100})
    fire = '{"blob": "' + "x" * 90 + '"}'
    assert error(api.post(f"{TRIGGERS}/t", data=fire), 413) == f"Request larger than allowed: {len(fire)} > 100 bytes."
    put = '{"parameters": [{"key": "blob", "value": "' + "x" * 160 + '"}]}'
    assert error(api.put(f"{TRIGGERS}/t", data=put), 413) == f"Request larger than allowed: {len(put)} > 200 bytes."
