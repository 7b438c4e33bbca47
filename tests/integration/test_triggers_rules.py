"""Triggers and rules through the REST API: CRUD, fire, the trigger record, rule status, and the edge cases
OpenWhisk clients rely on (https://github.com/apache/openwhisk/blob/master/docs/triggers_rules.md)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx
import pytest

from bench.stack import SQUALL
from tests.integration.conftest import Stack
from tests.integration.helpers import wait_for_record

pytestmark = pytest.mark.integration

ECHO = "def main(args):\n    return args\n"
NS = "/api/v1/namespaces/_"


def kv(**values: Any) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v in values.items()]


def error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    message: str = response.json()["error"]
    return message


def make(api: httpx.Client, unique: str, **trigger: Any) -> None:
    assert api.put(f"{NS}/actions/{unique}-a", json={"exec": {"kind": "python:default", "code": ECHO}}).is_success
    assert api.put(f"{NS}/triggers/{unique}-t", json=trigger).status_code == 200
    rule = api.put(f"{NS}/rules/{unique}-r", json={"trigger": f"/_/{unique}-t", "action": f"/_/{unique}-a"})
    assert rule.status_code == 200, rule.text


def fire(api: httpx.Client, name: str, payload: dict[str, Any] | None = None) -> httpx.Response:
    return api.post(f"{NS}/triggers/{name}", json=payload or {})


def rule_lines(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in record["logs"]]


def test_trigger_crud(api: httpx.Client, unique: str) -> None:
    created = api.put(f"{NS}/triggers/{unique}", json={"parameters": kv(a=1), "annotations": kv(x="y")})
    assert created.status_code == 200
    assert created.json() == {"namespace": "guest", "name": unique, "version": "0.0.1", "publish": False,
                              "annotations": kv(x="y"), "parameters": kv(a=1), "limits": {},
                              "updated": created.json()["updated"]}
    assert error(api.put(f"{NS}/triggers/{unique}", json={}), 409) == "resource already exists"
    updated = api.put(f"{NS}/triggers/{unique}", params={"overwrite": "true"}, json={"parameters": kv(b=2)})
    assert updated.json()["parameters"] == kv(b=2) and updated.json()["annotations"] == kv(x="y")
    assert updated.json()["version"] == "0.0.2"
    listed = api.get(f"{NS}/triggers", params={"limit": 200}).json()
    summary = next(t for t in listed if t["name"] == unique)
    assert set(summary) == {"namespace", "name", "version", "publish", "annotations", "updated"}
    assert api.get(f"{NS}/triggers", params={"count": "true"}).json()["triggers"] >= 1
    bad_feed = api.put(f"{NS}/triggers/{unique}-feed", json={"annotations": kv(feed="/no/such/feed/x/y")})
    assert error(bad_feed, 400) == "Feed name is not valid"
    too_big = api.post(f"{NS}/triggers/{unique}", json={"blob": "x" * 1_048_576})
    assert error(too_big, 413).startswith("Request larger than allowed: ")
    assert api.delete(f"{NS}/triggers/{unique}").json()["name"] == unique
    assert api.get(f"{NS}/triggers/{unique}").status_code == 404
    assert fire(api, unique).status_code == 404


def test_fire_runs_active_rules_and_records_the_trigger_activation(api: httpx.Client, unique: str) -> None:
    make(api, unique, parameters=kv(fromTrigger="t", both="trigger"))
    rule = api.get(f"{NS}/rules/{unique}-r").json()
    assert rule["status"] == "active"
    assert rule["trigger"] == {"path": "guest", "name": f"{unique}-t"}
    assert rule["action"] == {"path": "guest", "name": f"{unique}-a"}
    assert api.get(f"{NS}/triggers/{unique}-t").json()["rules"] == {
        f"guest/{unique}-r": {"action": {"path": "guest", "name": f"{unique}-a"}, "status": "active"}}

    fired = fire(api, f"{unique}-t", {"both": "payload", "p": 1})
    assert fired.status_code == 202
    trigger_id = fired.json()["activationId"]
    assert fired.headers["x-openwhisk-activation-id"] == trigger_id
    record = api.get(f"{NS}/activations/{trigger_id}").json()
    assert record["name"] == f"{unique}-t" and record["namespace"] == "guest"
    assert "end" not in record and "duration" not in record
    assert record["response"]["result"] == {"both": "payload", "p": 1}  # the raw payload, not merged
    [line] = rule_lines(record)
    assert line["rule"] == f"guest/{unique}-r" and line["action"] == f"guest/{unique}-a"
    assert line["statusCode"] == 0 and line["success"] is True
    action_record = wait_for_record(api, line["activationId"])
    result = action_record["response"]["result"]
    assert result["fromTrigger"] == "t" and result["both"] == "payload" and result["p"] == 1
    assert result["__ow_headers"]["content-type"] == "application/json"
    assert "authorization" not in result["__ow_headers"]  # the caller's key never reaches the action
    assert action_record.get("cause") is None


def test_rule_status_enable_disable_and_errors(api: httpx.Client, unique: str) -> None:
    make(api, unique)
    rules = f"{NS}/rules/{unique}-r"
    bad = api.post(rules, json={"status": "paused"})
    assert error(bad, 400) == "'paused' is not a recognized rule state, must be one of ['active', 'inactive']"
    disabled = api.post(rules, json={"status": "inactive", "trigger": None, "action": None})
    assert disabled.status_code == 200 and disabled.text == "OK"
    assert api.get(rules).json()["status"] == "inactive"
    assert api.post(rules, json={"status": "inactive"}).status_code == 200  # no-op
    no_rule_active = fire(api, f"{unique}-t")
    assert no_rule_active.status_code == 204 and no_rule_active.content == b""
    assert api.post(rules, json={"status": "active"}).status_code == 200
    assert api.get(rules).json()["status"] == "active"
    listed = [r for r in api.get(f"{NS}/rules", params={"limit": 200}).json() if r["name"] == f"{unique}-r"]
    assert listed and "status" not in listed[0]

    # overwrite keeps the status it had
    api.post(rules, json={"status": "inactive"})
    again = api.put(rules, params={"overwrite": "true"}, json={"trigger": f"/_/{unique}-t",
                                                               "action": f"/_/{unique}-a"})
    assert again.json()["status"] == "inactive" and again.json()["version"] == "0.0.2"
    assert error(api.put(rules, json={"trigger": f"/_/{unique}-t", "action": f"/_/{unique}-a"}), 409) == \
        "resource already exists"

    missing_trigger = api.put(f"{rules}2", json={"trigger": f"/_/{unique}-none", "action": f"/_/{unique}-a"})
    assert error(missing_trigger, 400) == f"trigger /guest/{unique}-none does not exist"
    missing_action = api.put(f"{rules}2", json={"trigger": f"/_/{unique}-t", "action": f"/_/{unique}-none"})
    assert error(missing_action, 400) == f"action /guest/{unique}-none does not exist"
    assert error(api.put(f"{rules}2", json={"trigger": f"/_/{unique}-t"}), 400) == \
        "rule requires a valid trigger and a valid action"
    assert api.get(f"{rules}2").status_code == 404  # nothing half-created


def test_firing_a_rule_whose_action_was_deleted_logs_the_error(api: httpx.Client, unique: str) -> None:
    make(api, unique)
    api.put(f"{NS}/rules/{unique}-off", json={"trigger": f"/_/{unique}-t", "action": f"/_/{unique}-a"})
    api.post(f"{NS}/rules/{unique}-off", json={"status": "inactive"})
    assert api.delete(f"{NS}/actions/{unique}-a").status_code == 200
    fired = fire(api, f"{unique}-t")
    assert fired.status_code == 202
    record = api.get(f"{NS}/activations/{fired.json()['activationId']}").json()
    lines = {line["rule"]: line for line in rule_lines(record)}
    assert lines[f"guest/{unique}-r"] == {"rule": f"guest/{unique}-r", "action": f"guest/{unique}-a",
                                          "statusCode": 1, "success": False,
                                          "error": "The requested resource does not exist."}
    assert lines[f"guest/{unique}-off"]["error"] == \
        f"Rule 'guest/{unique}-off' is inactive, action 'guest/{unique}-a' was not activated."


def test_trigger_deleted_before_its_rule(api: httpx.Client, unique: str) -> None:
    make(api, unique)
    assert api.delete(f"{NS}/triggers/{unique}-t").status_code == 200
    assert api.get(f"{NS}/rules/{unique}-r").json()["status"] == "inactive"
    enable = api.post(f"{NS}/rules/{unique}-r", json={"status": "active"})
    assert error(enable, 404) == "Only rules with existing triggers can be activated"
    deleted = api.delete(f"{NS}/rules/{unique}-r")
    assert deleted.status_code == 200 and deleted.json()["status"] == "inactive"
    assert api.get(f"{NS}/rules/{unique}-r").status_code == 404


def test_rule_to_an_action_in_another_namespaces_public_package(stack: Stack, api: httpx.Client,
                                                                 unique: str) -> None:
    assert api.put(f"{NS}/packages/{unique}", json={"publish": True, "parameters": kv(owner="guest")}).is_success
    assert api.put(f"{NS}/packages/{unique}-private", json={}).is_success
    for pkg in (unique, f"{unique}-private"):
        assert api.put(f"{NS}/actions/{pkg}/echo", json={"exec": {"kind": "python:default", "code": ECHO}}).is_success
    with stack.client(auth=stack.other) as other:
        assert other.put(f"{NS}/triggers/{unique}", json={}).status_code == 200
        private = other.put(f"{NS}/rules/{unique}-p", json={"trigger": f"/_/{unique}",
                                                            "action": f"/guest/{unique}-private/echo"})
        assert private.status_code == 403
        foreign_trigger = other.put(f"{NS}/rules/{unique}-ft", json={"trigger": f"/guest/{unique}",
                                                                     "action": f"/guest/{unique}/echo"})
        assert foreign_trigger.status_code == 403
        rule = other.put(f"{NS}/rules/{unique}-r", json={"trigger": f"/_/{unique}",
                                                       "action": f"/guest/{unique}/echo"})
        assert rule.status_code == 200, rule.text
        assert rule.json()["action"] == {"path": f"guest/{unique}", "name": "echo"}
        fired = other.post(f"{NS}/triggers/{unique}", json={"n": 1})
        assert fired.status_code == 202
        [line] = rule_lines(other.get(f"{NS}/activations/{fired.json()['activationId']}").json())
        assert line["success"] is True, line
        record = wait_for_record(other, line["activationId"])
        assert record["namespace"] != "guest"
        assert record["response"]["result"]["owner"] == "guest" and record["response"]["result"]["n"] == 1


def test_fires_per_minute_throttle(stack: Stack, unique: str) -> None:
    auth = subprocess.run([SQUALL, "admin", "user", "create", f"{unique}fires"], env=stack.env, check=True,
                          capture_output=True, text=True).stdout.strip().split(":", 1)
    limit = 60  # OpenWhisk's default firesPerMinute
    with stack.client(auth=(auth[0], auth[1])) as client:
        assert client.put(f"{NS}/triggers/{unique}", json={}).status_code == 200
        # 2 × limit + 1 fires span at most two one-minute windows, so one window must overflow.
        statuses = [client.post(f"{NS}/triggers/{unique}", json={}).status_code for _ in range(2 * limit + 1)]
        assert 204 in statuses and 429 in statuses
        throttled = client.post(f"{NS}/triggers/{unique}", json={})
        if throttled.status_code == 429:
            assert throttled.json()["error"].startswith("Too many requests in the last minute (count: ")
            assert throttled.json()["error"].endswith(f", allowed: {limit}).")
