"""A sequence survives its invoker dying mid-way: the unacknowledged step is redelivered to the restarted
invoker and the sequence still ends in exactly one stored record. Its own controller and invoker, so
killing the invoker does not disturb the other integration tests."""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Iterator
from typing import Any

import docker
import httpx
import pytest

from bench.stack import GUEST_AUTH, squall, start, stop, wait_ready
from tests.conftest import free_port
from tests.integration.helpers import invoke, put_action, wait_for_record

pytestmark = pytest.mark.integration

SLOW = "import time\ndef main(args):\n    time.sleep(4)\n    return {'value': args['value'] * 2}\n"
ADD = "def main(args):\n    return {'value': args.get('value', 0) + 1}\n"
FIRST_RECORD_DEADLINE_S = 60.0


class Lab:
    def __init__(self, env: dict[str, str], url: str, logs: Any) -> None:
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
def lab(couchdb_url: str, tmp_path: Any) -> Iterator[Lab]:
    run_id = secrets.token_hex(4)
    port = free_port()
    name = f"rec{run_id}"
    env = {**os.environ, "SQUALL_COUCHDB_URL": couchdb_url, "SQUALL_COUCHDB_PREFIX": f"rec{run_id}_",
           "SQUALL_CONTROLLER_PORT": str(port), "SQUALL_CONTROLLER_API_HOST": f"http://127.0.0.1:{port}",
           "SQUALL_CONTROLLER_WORKERS": "1", "SQUALL_CONTROLLER_THREADS": "4", "SQUALL_INVOKER_NAME": name,
           "SQUALL_INVOKER_QUEUES": name, "SQUALL_INVOKER_THREADS": "2", "SQUALL_INVOKER_USER_MEMORY_MB": "1024"}
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
        client = docker.from_env()
        try:
            for c in client.containers.list(all=True, filters={"label": f"squall.invoker={name}"}):
                c.remove(force=True)
        finally:
            client.close()


def test_invoker_killed_during_a_component(lab: Lab) -> None:
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
