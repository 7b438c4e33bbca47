"""``squall standalone`` started as the README says (``./standalone``), as a subprocess: the foundation's
scenario with local processes and with Docker, a restart that keeps actions and activations, and a shutdown
that leaves no process or container behind."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import httpx
import pytest

from tests.conftest import free_port
from tests.integration.conftest import GUEST_AUTH
from tests.integration.helpers import invoke, processes_in, put_action, wait_for_record

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "standalone"
READY_DEADLINE_S = 120.0
STOP_DEADLINE_S = 60.0
BROKERS = {"amqp": "amqp://guest:guest@127.0.0.1:5672//"}  # "+amqp": Celery on RabbitMQ, the invoker a child
HELLO = "def main(args):\n    print('hello log')\n    return {'greeting': 'Hello ' + args.get('name', 'stranger')}\n"


@dataclass
class Standalone:
    """One ``./standalone`` process with its own data directory, port and invoker name."""

    data_dir: Path
    containers: str
    broker: str | None = None
    name: str = field(default_factory=lambda: f"sa{secrets.token_hex(3)}")
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    runs: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir.parent / f"{self.name}-{self.runs}.log"

    def start(self) -> str:
        """Start and wait until it answers; returns what it printed by then."""
        self.runs += 1
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(SCRIPT), "--data-dir", str(self.data_dir), "--port", str(self.port),
                 "--containers", self.containers, "--name", self.name,
                 *(["--broker", self.broker] if self.broker else [])],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + READY_DEADLINE_S
        while "Ctrl-C stops it." not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"standalone did not start:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.05)
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, as a service manager sends it; returns the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_DEADLINE_S)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=GUEST_AUTH, timeout=90.0)

    def leftovers(self) -> list[str]:
        """Processes or containers this instance made that are still there."""
        found = []
        if self.process is not None:
            try:
                os.killpg(self.process.pid, 0)
                found.append(f"process group {self.process.pid} (e.g. the Celery invoker child)")
            except ProcessLookupError:
                pass
        found += [f"process {pid}" for pid in processes_in(Path(tempfile.gettempdir()) / f"squall-{self.name}")]
        if self.containers == "docker":
            client = docker.from_env()
            try:
                labelled = client.containers.list(all=True, filters={"label": f"squall.invoker={self.name}"})
                found += [f"container {c.name}" for c in labelled]
            finally:
                client.close()
        return found


@pytest.fixture
def standalone(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Standalone]:
    containers, _, broker = request.param.partition("+")
    instance = Standalone(tmp_path / "data", containers, BROKERS.get(broker))
    yield instance
    if instance.process is not None and instance.process.poll() is None:
        instance.stop()
    shutil.rmtree(Path(tempfile.gettempdir()) / f"squall-{instance.name}", ignore_errors=True)  # the proxy copy


@pytest.mark.parametrize("standalone", ["process", "docker", "process+amqp"], indirect=True)
def test_the_foundation_scenario(standalone: Standalone) -> None:
    banner = standalone.start()
    assert f"API host:  {standalone.url}" in banner
    assert f"wsk property set --apihost {standalone.url} --auth {':'.join(GUEST_AUTH)}" in banner
    assert f"admin:     {standalone.url}/admin" in banner
    with standalone.client() as api:
        put_action(api, "hello", HELLO)
        blocking = invoke(api, "hello", {"name": "x"}, blocking="true")
        assert blocking.status_code == 200, blocking.text
        assert blocking.json()["response"]["result"] == {"greeting": "Hello x"}
        assert invoke(api, "hello", {"name": "r"}, blocking="true", result="true").json() == {"greeting": "Hello r"}

        accepted = invoke(api, "hello", {"name": "nb"})
        assert accepted.status_code == 202
        record = wait_for_record(api, accepted.json()["activationId"])
        assert record["response"]["result"] == {"greeting": "Hello nb"}
        assert record["logs"][0].endswith(" stdout: hello log")
        blocking_record = wait_for_record(api, blocking.json()["activationId"])
        assert blocking_record["response"]["success"] is True
    assert standalone.stop() == 0
    assert standalone.leftovers() == []


@pytest.mark.parametrize("standalone", ["process"], indirect=True)
def test_restart_keeps_actions_and_activations_and_finishes_accepted_work(standalone: Standalone) -> None:
    standalone.start()
    slow = "import time\n\ndef main(args):\n    time.sleep(2)\n    return {'slept': True}\n"
    with standalone.client() as api:
        put_action(api, "hello", HELLO)
        put_action(api, "slow", slow)
        done = invoke(api, "hello", {"name": "before"}, blocking="true").json()["activationId"]
        wait_for_record(api, done)
        queued = [invoke(api, "slow").json()["activationId"] for _ in range(3)]
    assert standalone.stop() == 0  # while the slow ones run or wait: they are finished, not dropped
    assert standalone.leftovers() == []

    standalone.start()
    with standalone.client() as api:
        assert api.get("/api/v1/namespaces/_/actions/hello").json()["exec"]["kind"] == "python:3"
        assert wait_for_record(api, done)["response"]["result"] == {"greeting": "Hello before"}
        for aid in queued:
            assert wait_for_record(api, aid)["response"]["result"] == {"slept": True}
        again = invoke(api, "hello", {"name": "after"}, blocking="true", result="true")
        assert again.json() == {"greeting": "Hello after"}
    assert standalone.stop() == 0
    assert standalone.leftovers() == []


NODE_HELLO = "function main(args) { console.log('node log'); return {greeting: 'Hello ' + (args.name || 'stranger')}; }"
TICK = "def main(args):\n    return {'tick': args.get('tick')}\n"


@pytest.mark.parametrize("standalone", ["process"], indirect=True)
def test_node_sequences_catalog_admin_and_alarms_without_any_other_process(standalone: Standalone) -> None:
    """What the distributed stack spreads over processes, standalone does in one: Node.js actions, sequences
    (composition steps in-process), the system catalog installed at start, the admin pages, and alarms fired
    by its own scheduler loop."""
    standalone.start()
    with standalone.client() as api:
        put_action(api, "node", NODE_HELLO, kind="nodejs:default")
        node = invoke(api, "node", {"name": "js"}, blocking="true")
        assert node.json()["response"]["result"] == {"greeting": "Hello js"}, node.text
        assert wait_for_record(api, node.json()["activationId"])["logs"][0].endswith(" stdout: node log")

        put_action(api, "hello", HELLO)
        seq = api.put("/api/v1/namespaces/_/actions/both", json={"exec": {"kind": "sequence", "components": [
            "/whisk.system/utils/echo", "/_/hello"]}})
        assert seq.status_code == 200, seq.text
        both = invoke(api, "both", {"name": "seq"}, blocking="true")
        assert both.json()["response"]["result"] == {"greeting": "Hello seq"}, both.text
        assert len(wait_for_record(api, both.json()["activationId"])["logs"]) == 2

        assert api.get("/admin/login").status_code == 200
        limits = api.get("/api/v1/namespaces/_/limits")
        assert limits.status_code == 200 and limits.json()["invocationsPerMinute"] > 0  # counted in-process

        put_action(api, "tick", TICK)
        assert api.put("/api/v1/namespaces/_/triggers/every2s", json={"annotations": [
            {"key": "feed", "value": "/whisk.system/alarms/alarm"}]}).is_success
        assert api.put("/api/v1/namespaces/_/rules/ticking", json={"trigger": "/_/every2s",
                                                                  "action": "/_/tick"}).is_success
        created = api.post("/api/v1/namespaces/whisk.system/actions/alarms/alarm", params={"blocking": "true"},
                           json={"lifecycleEvent": "CREATE", "triggerName": "/_/every2s",
                                 "authKey": ":".join(GUEST_AUTH), "cron": "*/2 * * * * *",
                                 "trigger_payload": {"tick": "yes"}})
        assert created.status_code == 200, created.text
        deadline = time.monotonic() + READY_DEADLINE_S
        while True:
            fired = api.get("/api/v1/namespaces/_/activations", params={"name": "tick", "docs": "true"}).json()
            if len(fired) >= 2:
                break
            assert time.monotonic() < deadline, "the alarm never fired twice"
            time.sleep(0.5)
        assert all(a["response"]["result"] == {"tick": "yes"} for a in fired)
    assert standalone.stop() == 0
    assert standalone.leftovers() == []


CALL_BACK = """
import json, os, urllib.request

def main(args):
    with urllib.request.urlopen(os.environ["__OW_API_HOST"] + "/", timeout=10) as reply:
        return {"status": reply.status, "api": json.load(reply).get("api_paths")}
"""


@pytest.mark.parametrize("standalone", ["docker", "process"], indirect=True)
def test_actions_reach_the_api_at_their_api_host(standalone: Standalone) -> None:
    """Feed actions (and any action) call the platform back at ``__OW_API_HOST``: in a Docker container that is
    the action network's gateway, where standalone listens too; for a process, 127.0.0.1."""
    standalone.start()
    with standalone.client() as api:
        put_action(api, "callback", CALL_BACK)
        answer = invoke(api, "callback", blocking="true", result="true")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"status": 200, "api": ["/api/v1"]}
    assert standalone.stop() == 0
    assert standalone.leftovers() == []
