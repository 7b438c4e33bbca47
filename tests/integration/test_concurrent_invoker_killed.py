"""A slot held by an activation whose invoker was killed (SIGKILL) mid-run does not leak: the message comes back
to the restarted invoker, which records the activation (never running it twice) and releases its slot. Its own
controller and invoker, so killing the invoker does not disturb the other integration tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.integration.helpers import KillableStack, invoke, killable_stack, put_action, wait_for_record

pytestmark = pytest.mark.integration

SLOW = "import time\n\ndef main(args):\n    time.sleep(30)\n    return {'slept': 30}\n"
QUICK = "def main(args):\n    return {'ok': True}\n"
STARTED_DEADLINE_S = 60.0
REFUSAL = "Too many concurrent requests in flight (count: 1, allowed: 1)."
REDELIVERED = "The invoker stopped while the action ran; it was not run again."


@pytest.fixture
def lab(couchdb_url: str, tmp_path: Path) -> Iterator[KillableStack]:
    # the deployment's limit, this time
    with killable_stack(couchdb_url, tmp_path, "cik", LIMITS_CONCURRENT_INVOCATIONS="1") as stack:
        yield stack


def test_invoker_killed(lab: KillableStack, redis_url: str) -> None:
    from bench.stack import GUEST_AUTH

    client = redis.Redis.from_url(redis_url)
    try:
        with httpx.Client(base_url=lab.url, auth=GUEST_AUTH, timeout=90.0) as api:
            put_action(api, "slow", SLOW)
            put_action(api, "quick", QUICK)
            aid = invoke(api, "slow").json()["activationId"]
            deadline = time.monotonic() + STARTED_DEADLINE_S
            while not client.exists(f"squall:started:{aid}"):  # the invoker's claim: the action runs now
                assert time.monotonic() < deadline, "the slow action never started"
                time.sleep(0.05)
            lab.kill_invoker()
            refused = invoke(api, "quick")  # the dead invoker's activation still holds the one slot
            assert refused.status_code == 429 and refused.json()["error"] == REFUSAL, refused.text
            lab.invoker = lab.start_invoker()  # the message comes back to it
            record = wait_for_record(api, aid)
            assert record["response"]["status"] == "whisk internal error"
            assert record["response"]["result"] == {"error": REDELIVERED}
            answer = invoke(api, "quick", blocking="true", result="true")  # the slot is free again
            assert answer.status_code == 200 and answer.json() == {"ok": True}, answer.text
    finally:
        client.close()
