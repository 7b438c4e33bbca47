"""A slot held by an activation whose invoker was killed (SIGKILL) mid-run does not leak: the message comes back
to the restarted invoker, which records the activation (never running it twice) and releases its slot. Its own
controller and invoker, so killing the invoker does not disturb the other integration tests."""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from bench.stack import free_port, remove_containers, squall, start, stop, wait_ready
from tests.integration.helpers import invoke, put_action, wait_for_record

pytestmark = pytest.mark.integration

SLOW = "import time\n\ndef main(args):\n    time.sleep(30)\n    return {'slept': 30}\n"
QUICK = "def main(args):\n    return {'ok': True}\n"
STARTED_DEADLINE_S = 60.0
REFUSAL = "Too many concurrent requests in flight (count: 1, allowed: 1)."
REDELIVERED = "The invoker stopped while the action ran; it was not run again."


class Lab:
    def __init__(self, env: dict[str, str], url: str, logs: Path) -> None:
        self.env, self.url, self.logs = env, url, logs
        self.invoker = self.start_invoker()

    def start_invoker(self) -> Any:
        log = self.logs / f"invoker-{secrets.token_hex(2)}.log"
        process = start(self.env, log, "invoker")
        wait_ready(lambda: "ready." in log.read_text(errors="replace"), "invoker", [process], log)
        return process

    def kill_invoker(self) -> None:
        os.killpg(self.invoker.pid, signal.SIGKILL)
        self.invoker.wait()


@pytest.fixture
def lab(couchdb_url: str, tmp_path: Path) -> Iterator[Lab]:
    run_id = secrets.token_hex(4)
    port = free_port()
    name = f"cik{run_id}"
    env = {**os.environ, "SQUALL_COUCHDB_URL": couchdb_url, "SQUALL_COUCHDB_PREFIX": f"cik{run_id}_",
           "SQUALL_CONTROLLER_PORT": str(port), "SQUALL_CONTROLLER_API_HOST": f"http://127.0.0.1:{port}",
           "SQUALL_CONTROLLER_WORKERS": "1", "SQUALL_CONTROLLER_THREADS": "4", "SQUALL_INVOKER_NAME": name,
           "SQUALL_INVOKER_QUEUES": name, "SQUALL_INVOKER_THREADS": "2", "SQUALL_INVOKER_USER_MEMORY_MB": "1024",
           "SQUALL_LIMITS_CONCURRENT_INVOCATIONS": "1"}  # the deployment's limit, this time
    squall(env, "admin", "seed")
    url = f"http://127.0.0.1:{port}"
    controller = start(env, tmp_path / "controller.log", "controller")

    def up() -> bool:
        try:
            return httpx.get(url + "/ping", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    lab = None
    try:
        wait_ready(up, "controller", [controller], tmp_path / "controller.log")
        lab = Lab(env, url, tmp_path)
        yield lab
    finally:
        stop(controller)
        if lab is not None:
            stop(lab.invoker)
        remove_containers(name)


def test_invoker_killed(lab: Lab, redis_url: str) -> None:
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
