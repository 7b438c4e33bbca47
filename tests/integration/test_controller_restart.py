"""A rolling restart of the controller under load: a second ``squall controller`` binds the same port while
the first holds blocking invokes, then the first gets SIGTERM and drains.

The restart an operator does (docs/operations.md, "Restarting a controller"): start the new controller, wait
until its workers say they are ready, SIGTERM the old one. Meanwhile blocking callers wait on a slow action
and two probe loops (one on a kept-alive connection, one on a new connection per request) list actions and
invoke a fast action. Every caller must be answered with its result, no probe may fail or take longer than
``PROBE_BOUND_S``, and the old controller must exit within its graceful timeout.

The blocking wait is 20 s here (60 s in production) so the run stays short; the graceful timeout follows it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bench.stack import GUEST_AUTH, RunningStack, free_port, new_run_id, squall, stack_env, start, start_stack
from tests.integration.helpers import invoke, put_action

pytestmark = pytest.mark.integration

BLOCKING_TIMEOUT_MS = 20_000
DRAIN_MARGIN_S = 5.0
GRACEFUL_TIMEOUT_S = 25.0  # what the controller derives: 20 s + 5 s
WORKERS = 2
SLOW_CALLERS = 4
SLOW_SLEEP_S = 10.0  # still running when the old controller gets SIGTERM
PROBE_BOUND_S = 2.0
WARM_FAST = 3
PROBE_TIMEOUT_S = 10.0  # a probe that hangs shows as one over the bound, not as a stuck test
PROBE_MAX_REQUESTS = 3000  # per loop: the loops end on their own even if the test body does not stop them
PROBE_MAX_S = 120.0
READY_DEADLINE_S = 30.0
EXIT_AFTER_LAST_S = 5.0  # the old controller exits soon after its last answer
AFTER_EXIT_S = 2.0  # probes keep going this long after the old controller is gone: the new one serves alone

SLOW = ("import time\n\ndef main(args):\n"
        f"    time.sleep({SLOW_SLEEP_S})\n    return {{'caller': args.get('caller')}}\n")
FAST = "import time\n\ndef main(args):\n    time.sleep(args.get('hold', 0))\n    return {'ok': True}\n"


@dataclass
class Probe:
    what: str
    started: float
    seconds: float
    outcome: str  # the status code, or the transport error's name


@pytest.fixture
def running(couchdb_url: str, tmp_path: Path) -> Iterator[RunningStack]:
    env = stack_env(os.environ, couchdb_url, new_run_id(), free_port(), {
        "SQUALL_CONTROLLER_BLOCKING_TIMEOUT_MS": str(BLOCKING_TIMEOUT_MS),
        "SQUALL_CONTROLLER_DRAIN_MARGIN_S": str(DRAIN_MARGIN_S),
        "SQUALL_CONTROLLER_WORKERS": str(WORKERS),
        "SQUALL_CONTROLLER_THREADS": "16",
        "SQUALL_LIMITS_INVOCATIONS_PER_MINUTE": "1000000",
        "SQUALL_LIMITS_CONCURRENT_INVOCATIONS": "1000000",
        "SQUALL_INVOKER_THREADS": "8",  # the slow callers and the fast probes at once
        "SQUALL_INVOKER_USER_MEMORY_MB": "2048",
    })
    squall(env, "admin", "seed")
    stack = start_stack(env, tmp_path)
    try:
        yield stack
    finally:
        stack.stop()


def test_a_restarted_controller_answers_every_caller_without_an_outage(running: RunningStack) -> None:
    with httpx.Client(base_url=running.url, auth=GUEST_AUTH, timeout=60.0) as api:
        put_action(api, "slow", SLOW, limits={"memory": 128, "timeout": 30_000})
        put_action(api, "fast", FAST, limits={"memory": 128})
        # Warm containers to spare: the probes measure the controllers, not cold starts (one invoke at a time).
        with concurrent.futures.ThreadPoolExecutor(WARM_FAST) as pool:
            warm = list(pool.map(lambda _: invoke(api, "fast", {"hold": 1}, blocking="true", result="true").json(),
                                 range(WARM_FAST)))
        assert warm == [{"ok": True}] * WARM_FAST

    stop, one_invoke = threading.Event(), threading.Lock()
    probes: list[Probe] = []
    answers: dict[int, httpx.Response | Exception] = {}
    answered: dict[int, float] = {}
    threads = [threading.Thread(target=_probe_loop, args=(running.url, keep_alive, stop, one_invoke, probes))
               for keep_alive in (True, False)]
    threads += [threading.Thread(target=_slow_call, args=(running.url, caller, answers, answered))
                for caller in range(SLOW_CALLERS)]
    for thread in threads:
        thread.start()
    old = running.controller
    try:
        time.sleep(2.0)  # the slow calls are in flight, their containers started

        # The new controller, on the same port: it binds beside the old one and serves once loaded.
        new_log = running.logs / "controller-new.log"
        launched = time.monotonic()
        new = start(running.env, new_log, "controller")
        running.extra.append(new)
        _wait_for(lambda: new_log.read_text(errors="replace").count("Worker ready") >= WORKERS,
                  "the new controller's workers", new, new_log)

        terminated = time.monotonic()
        print(f"\nnew controller ready after {terminated - launched:.2f} s")
        os.kill(old.pid, signal.SIGTERM)
        code = old.wait(timeout=GRACEFUL_TIMEOUT_S + 10)
        drained = time.monotonic() - terminated
        time.sleep(AFTER_EXIT_S)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=PROBE_MAX_S)

    for p in sorted(probes, key=lambda p: p.started):
        if p.seconds > 0.5 or p.outcome != "200":
            print(f"slow probe at {p.started - launched:+.2f} s from launch, {p.started - terminated:+.2f} s from "
                  f"SIGTERM: {p}")
    # The switch runs from the new controller's start to the end; before it the slow calls' cold starts
    # share the machine with the probes, which is no concern of the restart's.
    before = [p for p in probes if p.started < launched]
    switch = [p for p in probes if p.started >= launched]
    after_exit = [p for p in switch if p.started > terminated + drained]
    longest = max(switch, key=lambda p: p.seconds)
    baseline = max((p.seconds for p in before), default=0.0)
    failed = [p for p in probes if p.outcome != "200"]
    last_answer = max(answered.values(), default=terminated) - terminated
    print(f"\n[controller restart] old controller drained in {drained:.2f} s (the last blocking caller was "
          f"answered after {last_answer:.2f} s; graceful timeout {GRACEFUL_TIMEOUT_S:.0f} s); "
          f"{len(switch)} probes in the switch, {len(failed)} failed, longest "
          f"{longest.seconds:.3f} s ({longest.what}; before the switch {baseline:.3f} s), "
          f"largest gap between answers {_largest_gap(switch):.3f} s; "
          f"slow callers: {[_describe(answers.get(c)) for c in range(SLOW_CALLERS)]}")

    for caller in range(SLOW_CALLERS):  # every blocking caller got its result, none was cut or sent a 202
        answer = answers.get(caller)
        assert isinstance(answer, httpx.Response), f"caller {caller}: {answer!r}"
        assert answer.status_code == 200, f"caller {caller}: {answer.status_code} {answer.text}"
        assert answer.json() == {"caller": caller}
    assert min(answered.values()) > terminated, "a blocking call ended before the SIGTERM: nothing was drained"
    assert code == 0, running.logs.joinpath("controller.log").read_text(errors="replace")[-3000:]
    assert drained < GRACEFUL_TIMEOUT_S
    assert drained - last_answer < EXIT_AFTER_LAST_S
    assert not failed, failed[:10]
    assert longest.seconds < PROBE_BOUND_S, longest
    assert len(after_exit) >= 10, "the new controller served too little on its own"
    new_text = new_log.read_text(errors="replace")
    assert "Connection in use" not in new_text, new_text[-3000:]
    assert new.poll() is None, new_text[-3000:]


def _slow_call(url: str, caller: int, answers: dict[int, httpx.Response | Exception],
               answered: dict[int, float]) -> None:
    try:
        with httpx.Client(base_url=url, auth=GUEST_AUTH, timeout=BLOCKING_TIMEOUT_MS / 1000 + 30) as client:
            answers[caller] = invoke(client, "slow", {"caller": caller}, blocking="true", result="true")
    except Exception as e:
        answers[caller] = e
    answered[caller] = time.monotonic()


def _probe_loop(url: str, keep_alive: bool, stop: threading.Event, one_invoke: threading.Lock,
                probes: list[Probe]) -> None:
    """Alternately list actions and invoke the fast action, until told to stop; bounded in count and time.

    The loops invoke one at a time, so a warm container is always free (the invoker hands a container back
    only after the caller has its result): a probe waits for a controller, never for a cold start."""
    limits = httpx.Limits() if keep_alive else httpx.Limits(max_keepalive_connections=0)
    kind = "kept-alive" if keep_alive else "new connection"
    deadline = time.monotonic() + PROBE_MAX_S
    with httpx.Client(base_url=url, auth=GUEST_AUTH, timeout=PROBE_TIMEOUT_S, limits=limits) as client:
        for n in range(PROBE_MAX_REQUESTS):
            if stop.is_set() or time.monotonic() > deadline:
                return
            listing = n % 2 == 0
            what = f"{kind}: " + ("list" if listing else "invoke")
            with contextlib.nullcontext() if listing else one_invoke:
                started = time.monotonic()
                try:
                    if listing:
                        outcome = str(client.get("/api/v1/namespaces/_/actions").status_code)
                    else:
                        outcome = str(invoke(client, "fast", blocking="true", result="true").status_code)
                except httpx.TransportError as e:
                    outcome = type(e).__name__
                probes.append(Probe(what, started, time.monotonic() - started, outcome))
            time.sleep(0.02)  # about 40 requests a second per loop: steady, without starving the 2 cores


def _wait_for(check: Callable[[], bool], what: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_DEADLINE_S
    while not check():
        assert process.poll() is None, f"{what} exited: {log.read_text(errors='replace')[-3000:]}"
        assert time.monotonic() < deadline, f"{what} not ready: {log.read_text(errors='replace')[-3000:]}"
        time.sleep(0.1)


def _largest_gap(probes: list[Probe]) -> float:
    ends = sorted(p.started + p.seconds for p in probes if p.outcome == "200")
    return max((b - a for a, b in itertools.pairwise(ends)), default=0.0)


def _describe(answer: httpx.Response | Exception | None) -> str:
    if isinstance(answer, httpx.Response):
        return str(answer.status_code)
    return repr(answer)
