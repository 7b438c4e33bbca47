"""An invoker restarted the way operators do it: SIGTERM to its process group and a new one started at once,
while the old one still drains a running activation (issue 15, item 4).

Before, the new invoker's start-up clean-up removed the containers the old one was still using (the draining
activation failed), both picked the same container names (the process factory's folder of one was wiped by the
other: "The action did not produce a valid response and exited unexpectedly" on the first invoke), and the old
one's leaving the registry on exit took the new one out of placement ("No invokers are available"). Now the
draining activation succeeds, and the first invokes of each kind on the new invoker succeed at once.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.stack import GUEST_AUTH, RunningStack, free_port, new_run_id, squall, stack_env, start, start_stack
from tests.integration.helpers import invoke, put_action

pytestmark = pytest.mark.integration

DRAIN_S = 6.0  # the draining activation's length: the old invoker is alive while the new one starts and serves
READY_DEADLINE_S = 60.0
KINDS = {
    "python:3": "def main(args):\n    print('py log')\n    return {'kind': 'python', 'echo': args.get('n')}\n",
    "nodejs:18": "function main(args) { console.log('js log'); return {kind: 'nodejs', echo: args.n}; }\n",
}
SLOW = f"import time\n\ndef main(args):\n    time.sleep({DRAIN_S})\n    return {{'drained': True}}\n"


@pytest.fixture(params=["docker", "process"])
def running(request: pytest.FixtureRequest, couchdb_url: str, tmp_path: Path) -> Iterator[RunningStack]:
    env = stack_env(os.environ, couchdb_url, new_run_id(), free_port(), {
        "SQUALL_INVOKER_FACTORY": request.param,
        "SQUALL_INVOKER_THREADS": "4",
        "SQUALL_INVOKER_USER_MEMORY_MB": "2048",
        "SQUALL_LIMITS_INVOCATIONS_PER_MINUTE": "1000000",
        "SQUALL_LIMITS_CONCURRENT_INVOCATIONS": "1000000",
    })
    squall(env, "admin", "seed")
    stack = start_stack(env, tmp_path)
    try:
        yield stack
    finally:
        stack.stop()


def _wait_for(path: Path, text: str, process: object) -> None:
    deadline = time.monotonic() + READY_DEADLINE_S
    while text not in path.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"no {text!r} in {path}:\n{path.read_text(errors='replace')[-3000:]}"
        time.sleep(0.05)  # polling a process coming up


def test_a_restarted_invoker_runs_its_first_activations_and_leaves_the_draining_one_alone(
        running: RunningStack) -> None:
    with httpx.Client(base_url=running.url, auth=GUEST_AUTH, timeout=90.0) as api:
        for kind, code in KINDS.items():
            put_action(api, kind.split(":")[0], code, kind=kind, limits={"memory": 128})
        put_action(api, "slow", SLOW, limits={"memory": 128, "timeout": 60_000})
        for kind in KINDS:  # warm containers of the old invoker, as a running deployment has
            assert invoke(api, kind.split(":")[0], {"n": 0}, blocking="true").status_code == 200

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            draining = pool.submit(lambda: invoke(api, "slow", blocking="true", result="true"))
            time.sleep(1.5)  # the slow action is running in the old invoker
            old = running.invoker
            os.killpg(old.pid, signal.SIGTERM)
            log = running.logs / "invoker-restarted.log"
            new = start(running.env, log, "invoker")
            running.extra.append(new)  # stopped with the stack
            _wait_for(log, "ready.", new)
            assert old.poll() is None, "the old invoker was meant to be still draining here"
            first = {kind: invoke(api, kind.split(":")[0], {"n": 1}, blocking="true") for kind in KINDS}
            for kind, answer in first.items():
                assert answer.status_code == 200, (kind, answer.text)
                response = answer.json()["response"]
                assert response["status"] == "success", (kind, response)
                assert response["result"] == {"kind": kind.split(":")[0], "echo": 1}
            drained = draining.result(timeout=90)
        assert drained.status_code == 200 and drained.json() == {"drained": True}, drained.text
        assert old.wait(timeout=60) == 0
        # The new invoker still serves once the old one is gone (the old one's leaving did not take it out).
        again = invoke(api, "python", {"n": 2}, blocking="true", result="true")
        assert again.status_code == 200 and again.json() == {"kind": "python", "echo": 2}, again.text
