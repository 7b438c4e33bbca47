"""A namespace's own throttles through the real stack: set with ``squall admin limits``, reported by
``/namespaces/_/limits``, enforced as OpenWhisk's 429 on invokes and fires."""

from __future__ import annotations

import pytest

from bench.stack import squall
from tests.integration.conftest import Stack
from tests.integration.helpers import invoke, put_action

pytestmark = pytest.mark.integration

ECHO = "def main(args):\n    return args\n"


def test_an_override_throttles_only_its_namespace(stack: Stack, unique: str) -> None:
    namespace = f"lim{unique}"
    key = squall(stack.env, "admin", "user", "create", namespace).split(":", 1)
    squall(stack.env, "admin", "limits", "set", namespace, "--invocations-per-minute", "2", "--fires-per-minute", "0")
    assert squall(stack.env, "admin", "limits", "get", namespace) == \
        '{"firesPerMinute": 0, "invocationsPerMinute": 2}'
    with stack.client(auth=(key[0], key[1])) as api:
        limits = api.get("/api/v1/namespaces/_/limits").json()
        assert limits["invocationsPerMinute"] == 2 and limits["firesPerMinute"] == 0
        put_action(api, "echo", ECHO)
        answers = [invoke(api, "echo", {"n": n}).status_code for n in range(3)]
        # Two per minute; the minute may turn between two calls, so the third may pass as well.
        assert answers[:2] == [202, 202] and answers[2] in (202, 429)
        if answers[2] == 202:
            answers.append(invoke(api, "echo").status_code)
            assert answers[3] == 429
        refused = invoke(api, "echo")
        assert refused.status_code == 429
        assert refused.json()["error"].startswith("Too many requests in the last minute (count: ")
        assert api.put("/api/v1/namespaces/_/triggers/t", json={}).is_success
        fired = api.post("/api/v1/namespaces/_/triggers/t", json={})
        assert fired.status_code == 429  # firesPerMinute 0
    with stack.client() as guest:  # everyone else keeps the deployment's limits
        assert guest.get("/api/v1/namespaces/_/limits").json()["invocationsPerMinute"] > 2
        put_action(guest, f"{unique}-echo", ECHO)
        assert invoke(guest, f"{unique}-echo").status_code == 202
