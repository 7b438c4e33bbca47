"""Triggers and rules through the REST API: CRUD, fire, the trigger record, rule status, and the edge cases
OpenWhisk clients rely on (https://github.com/apache/openwhisk/blob/master/docs/triggers_rules.md)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Stack
from tests.integration.helpers import wait_for_record

pytestmark = pytest.mark.integration

ECHO = "def main(args):\n    return args\n"
NS = "/api/v1/namespaces/_"


def kv(**values: Any) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v in values.items()]


def make(api: httpx.Client, unique: str, **trigger: Any) -> None:
    assert api.put(f"{NS}/actions/{unique}-a", json={"exec": {"kind": "python:default", "code": ECHO}}).is_success
    assert api.put(f"{NS}/triggers/{unique}-t", json=trigger).status_code == 200
    rule = api.put(f"{NS}/rules/{unique}-r", json={"trigger": f"/_/{unique}-t", "action": f"/_/{unique}-a"})
    assert rule.status_code == 200, rule.text


def fire(api: httpx.Client, name: str, payload: dict[str, Any] | None = None) -> httpx.Response:
    return api.post(f"{NS}/triggers/{name}", json=payload or {})


def rule_lines(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in record["logs"]]


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
