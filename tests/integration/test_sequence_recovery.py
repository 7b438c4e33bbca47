"""A sequence survives its invoker dying mid-way: the unacknowledged step is redelivered to the restarted
invoker and the sequence still ends in exactly one stored record. Its own controller and invoker, so
killing the invoker does not disturb the other integration tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.stack import GUEST_AUTH
from tests.integration.helpers import KillableStack, invoke, killable_stack, put_action, wait_for_record

pytestmark = pytest.mark.integration

SLOW = "import time\ndef main(args):\n    time.sleep(4)\n    return {'value': args['value'] * 2}\n"
ADD = "def main(args):\n    return {'value': args.get('value', 0) + 1}\n"
FIRST_RECORD_DEADLINE_S = 60.0


@pytest.fixture
def lab(couchdb_url: str, tmp_path: Path) -> Iterator[KillableStack]:
    with killable_stack(couchdb_url, tmp_path, "rec") as stack:
        yield stack


def test_invoker_killed_during_a_component(lab: KillableStack) -> None:
    with httpx.Client(base_url=lab.url, auth=GUEST_AUTH, timeout=90.0) as api:
        put_action(api, "add", ADD)
        put_action(api, "slow", SLOW)
        seq = api.put("/api/v1/namespaces/_/actions/seq",
                      json={"exec": {"kind": "sequence", "components": ["/_/add", "/_/slow", "/_/add"]}})
        assert seq.status_code == 200
        aid = invoke(api, "seq", {"value": 1}).json()["activationId"]
        first = _first_component(api, aid)
        lab.kill_invoker()  # while "slow" runs (it sleeps 4 s), or just before it starts
        lab.invoker = lab.start_invoker()
        record = wait_for_record(api, aid)
        assert record["logs"][0] == first
        status = record["response"]["status"]
        if status == "success":  # the step had not started: redelivered, it ran once, on the new invoker
            assert record["response"]["result"] == {"value": 5} and len(record["logs"]) == 3
        else:  # it had started: never run twice, recorded as the platform's failure, and the sequence ends there
            assert status == "whisk internal error" and len(record["logs"]) == 2
            slow = wait_for_record(api, record["logs"][1])
            assert slow["response"]["status"] == "whisk internal error" and slow["cause"] == aid
        listed = api.get("/api/v1/namespaces/_/activations", params={"name": "seq"}).json()
        assert [a["activationId"] for a in listed] == [aid]  # exactly one record for the sequence


def _first_component(api: httpx.Client, aid: str) -> str:
    """The id of the first component once its record is stored (the sequence record is not there yet)."""
    deadline = time.monotonic() + FIRST_RECORD_DEADLINE_S
    while True:
        found = api.get("/api/v1/namespaces/_/activations", params={"name": "add", "docs": "true"}).json()
        mine = [a for a in found if a.get("cause") == aid]
        if mine:
            return str(mine[0]["activationId"])
        assert time.monotonic() < deadline, "the first component never finished"
        time.sleep(0.05)
