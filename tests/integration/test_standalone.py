"""``squall standalone`` started as the README says (``./standalone``), as a subprocess: the foundation's
scenario with local processes and with Docker, a restart that keeps actions and activations, and a shutdown
that leaves no process or container behind."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import httpx
import pytest

from config.settings import InvokerSettings
from tests.conftest import free_port
from tests.integration.conftest import GUEST_AUTH
from tests.integration.helpers import invoke, processes_in, put_action, wait_for_record
from workers.factories.process import process_root
from workers.invoker import REDELIVERED

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
    env: dict[str, str] = field(default_factory=dict)  # settings for this instance (SQUALL_...)

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
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, **self.env})
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
        found += [f"process {pid}" for pid in processes_in(process_root(InvokerSettings(name=self.name)))]
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
    shutil.rmtree(process_root(InvokerSettings(name=instance.name)), ignore_errors=True)  # the proxy copy


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
    the action network's gateway, where standalone listens too; for a process, 127.0.0.1 in its own network namespace,
    relayed to the API."""
    standalone.start()
    with standalone.client() as api:
        put_action(api, "callback", CALL_BACK)
        answer = invoke(api, "callback", blocking="true", result="true")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"status": 200, "api": ["/api/v1"]}
    assert standalone.stop() == 0
    assert standalone.leftovers() == []


KILLED_COUNT = 55
SLOW_INIT_S = 6.0  # long enough that 55 invokes are all accepted (seconds on a loaded host) before any /init ends


def kill_9(instance: Standalone) -> None:
    """SIGKILL to the standalone process alone, as ``kill -9 PID`` (its action processes run in sessions of their
    own and may outlive it)."""
    assert instance.process is not None
    instance.process.kill()
    instance.process.wait(timeout=10)


def invoke_many(api: httpx.Client, name: str, payload: dict[str, object], count: int) -> list[str]:
    ids = []
    for _ in range(count):
        response = invoke(api, name, payload)
        assert response.status_code == 202, response.text
        ids.append(response.json()["activationId"])
    return ids


@pytest.mark.parametrize("standalone", ["process"], indirect=True)
def test_kill_9_then_a_restart_runs_every_accepted_activation_once_and_records_what_happened(
        standalone: Standalone) -> None:
    """Two kills: while containers initialize (nothing had reached ``/run``: after the restart every activation runs
    once and succeeds), then while 1 s actions run (only those in ``/run`` at the kill are recorded as interrupted;
    none runs twice, every one has one record)."""
    from bench.lab import ACTION_CODE, Recorder

    recorder = Recorder(["127.0.0.1"])
    standalone.env["SQUALL_INVOKER_PROCESS_NETWORK"] = "host"  # the recorder listens on this host's 127.0.0.1
    # 55 in flight at once is past OpenWhisk's 30 concurrent invocations (enforced in standalone too)
    standalone.env["SQUALL_LIMITS_CONCURRENT_INVOCATIONS"] = str(2 * KILLED_COUNT)
    try:
        standalone.start()
        params = [{"key": "recorder", "value": recorder.url}]
        with standalone.client() as api:
            for name, code in (("slowinit", f"import time\ntime.sleep({SLOW_INIT_S})\n{ACTION_CODE}"),
                               ("second", ACTION_CODE)):
                response = api.put(f"/api/v1/namespaces/_/actions/{name}", params={"overwrite": "true"},
                                   json={"exec": {"kind": "python:3", "code": code}, "parameters": params})
                assert response.status_code == 200, response.text
            first = time.monotonic()  # no /init can end before first + SLOW_INIT_S
            initializing = invoke_many(api, "slowinit", {"s": 0}, KILLED_COUNT)
        time.sleep(max(0.0, first + SLOW_INIT_S / 2 - time.monotonic()))  # midway, however long the invokes took
        assert not set(recorder.ids()) & set(initializing), "an action ran before its /init could have ended"
        kill_9(standalone)

        standalone.start()
        with standalone.client() as api:
            records = {aid: wait_for_record(api, aid) for aid in initializing}
        assert {aid: r["response"]["status"] for aid, r in records.items()} == dict.fromkeys(initializing, "success")
        ran = recorder.ids()
        assert all(ran[aid] == 1 for aid in initializing), {aid: ran[aid] for aid in initializing}

        with standalone.client() as api:
            running = invoke_many(api, "second", {"s": 1}, KILLED_COUNT)
        deadline = time.monotonic() + 30
        while not set(recorder.ids()) & set(running) and time.monotonic() < deadline:
            time.sleep(0.05)  # until the first of them ended: others are in /run now
        kill_9(standalone)
        time.sleep(1.5)  # the orphaned action processes end their runs (they outlive their parent)

        standalone.start()
        with standalone.client() as api:
            records = {aid: wait_for_record(api, aid) for aid in running}
        ran = recorder.ids()
        twice = {aid: ran[aid] for aid in running if ran[aid] > 1}
        assert not twice, f"ran more than once: {twice}"
        interrupted = {aid for aid, r in records.items() if r["response"]["status"] != "success"}
        assert all(records[aid]["response"]["result"] == {"error": REDELIVERED} for aid in interrupted)
        threads = 16  # the default invoker.threads: at most that many were in /run at the kill
        assert len(interrupted) <= threads, f"{len(interrupted)} recorded as interrupted"
        assert all(ran[aid] == 1 for aid in set(running) - interrupted)
        print(f"\n[standalone kill -9] {KILLED_COUNT} in /init: all succeeded once after the restart; "
              f"{KILLED_COUNT} in or before /run: {len(interrupted)} recorded as interrupted, "
              f"{KILLED_COUNT - len(interrupted)} succeeded, none ran twice")
    finally:
        recorder.close()


SLOW = "import time\n\ndef main(args):\n    time.sleep(3)\n    return {'done': True}\n"


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.parametrize("standalone", ["process"], indirect=True)
def test_the_data_directory_store_and_spool_are_private_and_what_is_not_confined_is_said(
        standalone: Standalone) -> None:
    """Another local user could read every tenant's code, keys and queued parameters, and the admin's session
    secret, from a world-readable squall.db or spool; and what process containers cannot confine is said at start."""
    standalone.data_dir.mkdir(mode=0o755)
    banner = standalone.start()
    assert "process containers leave" in banner and "not confined: process containers see this host's filesystem" \
        in banner, banner
    assert "share this host's network" not in banner, banner  # a network namespace each, the API host relayed
    data = standalone.data_dir
    with standalone.client() as api:
        put_action(api, "slow", SLOW)
        queued = invoke(api, "slow").json()["activationId"]
        accepted = data / "spool" / "accepted" / f"{queued}.json"
        assert accepted.exists()  # still running: the message is kept until its record is stored
        assert mode(accepted) == 0o600
        assert wait_for_record(api, queued)["response"]["result"] == {"done": True}
    assert mode(data) == 0o700
    for name in ("squall.db", "squall.db-wal", "squall.db-shm"):
        assert mode(data / name) == 0o600, name
    for folder in ("spool", "spool/accepted", "spool/started", "spool/records"):
        assert mode(data / folder) == 0o700, folder
    if os.geteuid() == 0:
        peek = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat",
                               str(data / "squall.db")], capture_output=True, timeout=10, check=False)
        assert peek.returncode != 0 and b"Permission denied" in peek.stderr
    assert standalone.stop() == 0
