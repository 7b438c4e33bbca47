"""Which code sees the caller's key, end to end (``app.core.credentials``): an action with ``provide-api-key`` reads
``__OW_API_KEY`` in its container. Its own namespace's invocations (and its triggers' rules) hand it the key;
another namespace's, directly, through a binding, from a sequence or from a rule, hand it nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Stack
from tests.integration.helpers import put_action

pytestmark = pytest.mark.integration

WHOAMI = "import os\n\ndef main(args):\n    return {'key': os.environ.get('__OW_API_KEY')}\n"
KEYED = [{"key": "provide-api-key", "value": True}]


def key_seen(api: httpx.Client, path: str) -> Any:
    response = api.post(f"/api/v1/namespaces/{path}", params={"blocking": "true", "result": "true"}, json={})
    assert response.status_code == 200, response.text
    return response.json()["key"]


def test_a_public_action_of_another_namespace_gets_no_key_of_its_caller(stack: Stack, unique: str) -> None:
    guest_key, other_key = ":".join(stack.guest), ":".join(stack.other)
    with stack.client(stack.other) as other, stack.client() as guest:
        assert other.put(f"/api/v1/namespaces/_/packages/{unique}", json={"publish": True}).status_code == 200
        put_action(other, f"{unique}/whoami", WHOAMI, annotations=KEYED)
        assert guest.put(f"/api/v1/namespaces/_/packages/{unique}-theirs",
                         json={"binding": {"namespace": "other", "name": unique}}).status_code == 200
        sequence = {"exec": {"kind": "sequence", "components": [f"/other/{unique}/whoami"]}}
        assert guest.put(f"/api/v1/namespaces/_/actions/{unique}-seq", json=sequence).status_code == 200
        put_action(guest, f"{unique}-mine", WHOAMI, annotations=KEYED)

        # Across namespaces first, so no container of the action has met any key yet.
        assert key_seen(guest, f"other/actions/{unique}/whoami") is None
        assert key_seen(guest, f"_/actions/{unique}-theirs/whoami") is None
        assert key_seen(guest, f"_/actions/{unique}-seq") is None
        # The same code invoked by its own namespace, and the caller's own code, get the caller's key.
        assert key_seen(other, f"_/actions/{unique}/whoami") == other_key
        assert key_seen(guest, f"_/actions/{unique}-mine") == guest_key
        # Containers are per invoking namespace: its owner's run left no key where guest's runs go.
        assert key_seen(guest, f"other/actions/{unique}/whoami") is None


def test_an_action_a_rule_starts_gets_the_firing_key_in_its_own_namespace_only(stack: Stack, unique: str) -> None:
    guest_key = ":".join(stack.guest)
    with stack.client(stack.other) as other, stack.client() as guest:
        assert other.put(f"/api/v1/namespaces/_/packages/{unique}", json={"publish": True}).status_code == 200
        put_action(other, f"{unique}/whoami", WHOAMI, annotations=KEYED)
        put_action(guest, f"{unique}-mine", WHOAMI, annotations=KEYED)
        assert guest.put(f"/api/v1/namespaces/_/triggers/{unique}-t", json={}).status_code == 200
        for rule, action in ((f"{unique}-r1", f"{unique}-mine"), (f"{unique}-r2", f"/other/{unique}/whoami")):
            created = guest.put(f"/api/v1/namespaces/_/rules/{rule}", json={"trigger": f"{unique}-t",
                                                                             "action": action})
            assert created.status_code == 200, created.text
        fired = guest.post(f"/api/v1/namespaces/_/triggers/{unique}-t", json={})
        assert fired.status_code == 202, fired.text
        seen = {}
        for line in wait_record(guest, fired.json()["activationId"])["logs"]:
            started = json.loads(line)["activationId"]
            record = wait_record(guest, started)
            seen[record["name"]] = record["response"]["result"]["key"]
        assert seen == {f"{unique}-mine": guest_key, "whoami": None}


def wait_record(api: httpx.Client, activation_id: str) -> Any:
    """The activation's record once stored (polled: non-blocking activations land a moment later)."""
    deadline = time.monotonic() + 60
    while True:
        response = api.get(f"/api/v1/namespaces/_/activations/{activation_id}")
        if response.status_code == 200 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            return response.json()
        time.sleep(0.2)  # polling for the record
