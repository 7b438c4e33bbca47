"""Faults on the real parts: a RabbitMQ node, a Redis and a pouchdb-server of the run's own, stopped and started
while the lab (``bench.lab``: controllers here, invokers in network namespaces) runs activations; what came of
every request and every accepted activation.

    .venv/bin/python -m bench.faults --scenario broker,redis,store --down 15      # from the repository root, as root

Each scenario runs blocking and non-blocking callers for ``--before`` seconds, takes one service down for
``--down`` seconds, brings it back and keeps calling for ``--after`` seconds, then prints one line of the table
the fault tests assert on (``tests/integration/test_faults.py``):

* **accepted**: activations the controller took on (200, 202, 502 with an activation id);
* **records**: of those, how many have a stored record; **lost** the rest;
* **twice**: activations whose action ran more than once (the lab's recorder);
* **whisk errors**: records that say "whisk internal error" (none of these faults should make one);
* **wrong status**: answers a fault must not give: 500, or a 5xx other than 502/503, or a 503 without the
  ``{"error", "code"}`` envelope;
* **client errors**: no answer at all (connection refused or reset, or no response within the client's time);
* **late**: blocking calls answered later than the blocking wait plus ``LATE_S`` (a hang);
* **recovery**: from the service's return to the end of the first blocking call sent after it that got its result.

Services are started on free loopback ports by ``Services`` (the RabbitMQ node runs as the ``rabbitmq`` user, so
its folder is handed to that user); everything is stopped and removed at the end, also after a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.lab import WHISK_ERROR, Call, Lab, LabError, Load, exactly_once, open_lab, prime, status_of, unavailable
from bench.stack import couch_answers, free_port, pouchdb_binary, stop

READY_S = 60.0
POLL_S = 0.1
LATE_S = 5.0
"""A blocking call answered this much later than the blocking wait counts as late (a hang)."""
BLOCKING_WAIT_S = 60.0


class FaultError(RuntimeError):
    """A service of the fault run could not be started or stopped."""


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(check: Callable[[], bool], what: str, deadline_s: float = READY_S) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(POLL_S)  # polling a service coming up or going down
    raise FaultError(f"{what} within {deadline_s:.0f} s")


class Services:
    """A RabbitMQ node, a Redis and a pouchdb-server (on disk, so a restart keeps the data) for one run."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.node = f"sqfault{secrets.token_hex(3)}@localhost"
        self.amqp_port = free_port()
        self.dist_port = free_port()
        self.redis_port = free_port()
        self.couch_port = free_port()
        self._redis: subprocess.Popen[bytes] | None = None
        self._couch: subprocess.Popen[bytes] | None = None
        self._rabbit_dir = Path(tempfile.mkdtemp(prefix="squall-faults-rabbit-"))  # the rabbitmq user writes here
        self._broker_up = False

    @property
    def broker_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}//"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def couchdb_url(self) -> str:
        return f"http://127.0.0.1:{self.couch_port}"

    def env(self) -> dict[str, str]:
        """The ``SQUALL_*`` settings that point a deployment at these services."""
        return {"SQUALL_BROKER_URL": self.broker_url, "SQUALL_RESULT_BACKEND": self.redis_url,
                "SQUALL_COUCHDB_URL": self.couchdb_url}

    # --- life ----------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for folder in ("mnesia", "log"):
            (self._rabbit_dir / folder).mkdir()
        (self._rabbit_dir / "enabled_plugins").write_text("[].\n")
        # Its own listener (the machine's node has 127.0.0.1:5672 in /etc/rabbitmq), and guest from the relays.
        (self._rabbit_dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.amqp_port}\nloopback_users = none\n")
        shutil.chown(self._rabbit_dir, "rabbitmq", "rabbitmq")
        for path in self._rabbit_dir.rglob("*"):
            shutil.chown(path, "rabbitmq", "rabbitmq")
        self.start_broker()
        self.start_redis()
        self.start_store()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop_broker()
        for process in (self._redis, self._couch):
            if process is not None:
                with contextlib.suppress(Exception):
                    stop(process)
        shutil.rmtree(self._rabbit_dir, ignore_errors=True)

    # --- the broker ----------------------------------------------------------------------------------------------

    def _rabbit_env(self) -> dict[str, str]:
        return {**os.environ, "RABBITMQ_NODENAME": self.node, "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(self._rabbit_dir / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self._rabbit_dir / "log"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self._rabbit_dir / "enabled_plugins"),
                "RABBITMQ_CONFIG_FILE": str(self._rabbit_dir / "rabbitmq.conf")}

    def start_broker(self) -> None:
        """Start the node (a restart keeps its durable queues and their messages) and wait for its listener."""
        subprocess.run(["rabbitmq-server", "-detached"], env=self._rabbit_env(), check=True, capture_output=True,
                       timeout=60)
        self._broker_up = True
        _wait(lambda: _port_open(self.amqp_port), f"the RabbitMQ node {self.node} did not listen")

    def stop_broker(self) -> None:
        """Halt the node: its clients' connections are closed, as in a broker restart."""
        if not self._broker_up:
            return
        subprocess.run(["rabbitmqctl", "-n", self.node, "stop"], env=self._rabbit_env(), check=False,
                       capture_output=True, timeout=60)
        self._broker_up = False
        _wait(lambda: not _port_open(self.amqp_port), f"the RabbitMQ node {self.node} did not stop")

    # --- Redis ---------------------------------------------------------------------------------------------------

    def start_redis(self) -> None:
        """Start Redis on its port; it loads what ``stop_redis`` saved."""
        log = (self.workdir / "redis.log").open("ab")
        self._redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--dbfilename", "faults.rdb"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        _wait(lambda: _port_open(self.redis_port), "Redis did not listen")

    def stop_redis(self) -> None:
        """Shut Redis down as an operator restarts it: its data saved, its clients' connections closed."""
        if self._redis is None:
            return
        subprocess.run(["redis-cli", "-p", str(self.redis_port), "shutdown", "save"], check=False,
                       capture_output=True, timeout=30)
        try:
            self._redis.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stop(self._redis)
        self._redis = None

    # --- the store -----------------------------------------------------------------------------------------------

    def start_store(self) -> None:
        """Start the CouchDB-API server on its port, over the data it had."""
        binary = pouchdb_binary(os.environ.get("SQUALL_POUCHDB_BIN"))
        if binary is None:
            raise FaultError("no pouchdb-server: run tests/services.sh or set SQUALL_POUCHDB_BIN")
        log = (self.workdir / "pouchdb.log").open("ab")
        self._couch = subprocess.Popen(
            [binary, "--port", str(self.couch_port), "--host", "127.0.0.1", "--dir", str(self.workdir / "couch")],
            cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        _wait(lambda: couch_answers(self.couchdb_url), "pouchdb-server did not answer")

    def stop_store(self) -> None:
        if self._couch is not None:
            stop(self._couch)
            self._couch = None


@contextlib.contextmanager
def open_services(workdir: Path) -> Iterator[Services]:
    services = Services(workdir)
    try:
        services.start()
        yield services
    finally:
        services.close()


@contextlib.contextmanager
def fault_lab(workdir: Path, *, invokers: int = 2, controller_env: dict[str, str] | None = None,
              invoker_env: dict[str, str] | None = None) -> Iterator[tuple[Services, Lab]]:
    """Private services and a lab over them: one controller, ``invokers`` invokers on hosts of their own."""
    with open_services(workdir / "services") as services:
        env = {**os.environ, **services.env()}
        with open_lab(workdir / "lab", services.couchdb_url, env=env, controller_env=controller_env,
                      invoker_env=invoker_env) as lab:
            for _ in range(invokers):
                lab.add_invoker()
            yield services, lab


# --- one fault, and what came of it ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """The table row of one fault run (see the module doc)."""

    scenario: str
    accepted: int
    records: int
    lost: int
    twice: int
    whisk_errors: int
    wrong_status: int
    client_errors: int
    late: int
    recovery_s: float | None
    statuses: Counter[int] = field(default_factory=Counter)
    controller_log_bytes: int = 0  # what the controllers logged while the service was down (not request lines)
    examples: list[str] = field(default_factory=list)

    def line(self) -> str:
        recovery = "never" if self.recovery_s is None else f"{self.recovery_s:.1f} s"
        codes = " ".join(f"{code}:{n}" for code, n in sorted(self.statuses.items()))
        return (f"{self.scenario:<8} accepted {self.accepted:>5}  records {self.records:>5}  lost {self.lost}  "
                f"twice {self.twice}  whisk errors {self.whisk_errors}  wrong status {self.wrong_status}  "
                f"client errors {self.client_errors}  late {self.late}  recovery {recovery}  "
                f"controller log {self.controller_log_bytes / 1024:.0f} KB  [{codes}]")


HEADER = ("scenario accepted records lost twice whisk-errors wrong-status client-errors late recovery "
          "controller-log [HTTP statuses]")


def wrong(c: Call) -> bool:
    """An answer no fault may give: a 500, a 5xx other than 502/503, or a 503 without the envelope."""
    if c.status == 503:
        return not ({"error", "code"} <= set(c.body))
    return c.status >= 500 and c.status != 502


REQUEST_LINES = b"app.controller.access_log"
"""The logger of the controller's one line per request (app/controller/access_log.py), in either log format."""


def logged_since(logs: list[Path], sizes: list[int]) -> bytes:
    """What the controllers logged after ``sizes`` (each log's size then) about anything but the requests they
    served: their line per request grows with the load, not with what an outage costs them."""
    appended = b"".join(log.read_bytes()[size:] for log, size in zip(logs, sizes, strict=True))
    return b"".join(line for line in appended.splitlines(keepends=True) if REQUEST_LINES not in line)


def outcome(lab: Lab, scenario: str, calls: list[Call], back: float, *, log_bytes: int = 0,
            records_s: float = 120.0) -> Outcome:
    """Check every accepted activation of ``calls`` (waiting up to ``records_s`` for records) and sum up."""
    checked = exactly_once(lab, calls, records_s)
    whisk = [i for i, r in checked.records.items() if status_of(r) == WHISK_ERROR]
    after = sorted((c for c in calls if c.blocking and c.sent >= back and c.status == 200), key=lambda c: c.done)
    examples = [f"{c.status} {str(c.body)[:200]}" for c in calls if wrong(c)][:3]
    examples += [f"whisk error {i}: {checked.records[i].get('response')}" for i in whisk[:3]]
    return Outcome(
        scenario=scenario, accepted=len(checked.ids), records=len(checked.ids) - len(checked.missing),
        lost=len(checked.missing), twice=len(checked.twice), whisk_errors=len(whisk),
        wrong_status=sum(1 for c in calls if wrong(c)), client_errors=sum(1 for c in calls if c.status == 0),
        late=sum(1 for c in calls if c.blocking and c.waited > BLOCKING_WAIT_S + LATE_S),
        recovery_s=(after[0].done - back) if after else None,
        statuses=Counter(c.status for c in calls), controller_log_bytes=log_bytes, examples=examples)


def run_fault(lab: Lab, scenario: str, down: Callable[[], None], up: Callable[[], None], *, action: str,
              down_s: float, before_s: float = 5.0, after_s: float = 20.0, blocking_clients: int = 4,
              nonblocking_clients: int = 2, pause_s: float = 0.05, sleep_s: float = 0.1,
              records_s: float = 120.0) -> Outcome:
    """Callers of ``action`` (the lab's recorder action, created here) before, during and after ``down()`` …
    ``up()``; returns the run's ``Outcome``."""
    with lab.client() as client:
        lab.put_action(client, action)
    prime(lab, action)
    seconds = before_s + down_s + after_s
    loads = [Load(lab, [action], sleep_s, blocking_clients, seconds=seconds)]
    if nonblocking_clients:
        loads.append(Load(lab, [action], sleep_s, nonblocking_clients, seconds=seconds, blocking=False,
                          pause_s=pause_s))
    time.sleep(before_s)  # callers running on a healthy platform first
    sizes = [c.log.stat().st_size for c in lab.controllers]
    down()
    time.sleep(down_s)  # the outage itself
    log_bytes = len(logged_since([c.log for c in lab.controllers], sizes))
    up()
    back = time.time()
    calls = [c for load in loads for c in load.finish()]
    return outcome(lab, scenario, calls, back, log_bytes=log_bytes, records_s=records_s)


SCENARIOS = ("broker", "redis", "store")


def run_scenario(services: Services, lab: Lab, scenario: str, down_s: float, **kwargs: Any) -> Outcome:
    steps = {"broker": (services.stop_broker, services.start_broker),
             "redis": (services.stop_redis, services.start_redis),
             "store": (services.stop_store, services.start_store)}
    down, up = steps[scenario]
    return run_fault(lab, scenario, down, up, action=f"fault-{scenario}-{secrets.token_hex(2)}", down_s=down_s,
                     **kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default=",".join(SCENARIOS), help="comma-separated: " + ", ".join(SCENARIOS))
    parser.add_argument("--down", type=float, default=15.0, help="seconds each service stays down")
    parser.add_argument("--before", type=float, default=5.0)
    parser.add_argument("--after", type=float, default=20.0)
    parser.add_argument("--invokers", type=int, default=2)
    parser.add_argument("--blocking", type=int, default=4, help="blocking callers")
    parser.add_argument("--nonblocking", type=int, default=2, help="non-blocking callers")
    args = parser.parse_args(argv)
    reason = unavailable()
    if reason:
        print(f"cannot run the fault lab here: {reason}", file=sys.stderr)
        return 2
    scenarios = [s.strip() for s in args.scenario.split(",") if s.strip()]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    stopping = threading.Event()

    def interrupted(signum: int, frame: Any) -> None:
        stopping.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    with tempfile.TemporaryDirectory(prefix="squall-faults-") as tmp:
        print(f"starting a RabbitMQ node, Redis, pouchdb-server and a lab of {args.invokers} invokers ...",
              flush=True)
        try:
            with fault_lab(Path(tmp), invokers=args.invokers) as (services, lab):
                print(HEADER, flush=True)
                for scenario in scenarios:
                    print(f"  {scenario}: down {args.down:.0f} s under load ...", flush=True)
                    result = run_scenario(services, lab, scenario, args.down, before_s=args.before,
                                          after_s=args.after, blocking_clients=args.blocking,
                                          nonblocking_clients=args.nonblocking)
                    print(result.line(), flush=True)
                    for example in result.examples:
                        print(f"    e.g. {example}", flush=True)
        except (FaultError, LabError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
