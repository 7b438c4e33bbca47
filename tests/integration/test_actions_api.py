"""Actions over REST: create, read, update, list, delete, and OpenWhisk's answers to bad input."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.helpers import put_action

pytestmark = pytest.mark.integration

HELLO = "def main(args):\n    return {'greeting': 'Hello ' + args.get('name', 'stranger')}\n"


def test_create_get_update_delete(api: httpx.Client, unique: str) -> None:
    created = put_action(api, unique, HELLO).json()
    assert created["name"] == unique and created["namespace"] == "guest"
    assert created["version"] == "0.0.1"
    annotations = {a["key"]: a["value"] for a in created["annotations"]}
    assert annotations == {"provide-api-key": False, "exec": "python:3"}
    assert created["limits"] == {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1}

    got = api.get(f"/api/v1/namespaces/guest/actions/{unique}").json()
    assert got["exec"]["code"] == HELLO and got["exec"]["binary"] is False
    without = api.get(f"/api/v1/namespaces/_/actions/{unique}", params={"code": "false"}).json()
    assert "code" not in without["exec"]

    again = api.put(f"/api/v1/namespaces/_/actions/{unique}", json={"exec": {"kind": "python:3", "code": HELLO}})
    assert again.status_code == 409 and again.json()["error"] == "resource already exists"

    updated = api.put(f"/api/v1/namespaces/_/actions/{unique}", params={"overwrite": "true"},
                      json={"limits": {"memory": 128}, "parameters": [{"key": "name", "value": "p"}]}).json()
    assert updated["version"] == "0.0.2"
    assert updated["limits"]["memory"] == 128 and updated["limits"]["timeout"] == 60000
    assert updated["exec"]["code"] == HELLO

    deleted = api.delete(f"/api/v1/namespaces/_/actions/{unique}")
    assert deleted.status_code == 200 and deleted.json()["name"] == unique
    missing = api.get(f"/api/v1/namespaces/_/actions/{unique}")
    assert missing.status_code == 404
    assert missing.json()["error"] == "The requested resource does not exist."
