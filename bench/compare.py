"""Compare settings or versions of the code by interleaved short runs, each on a fresh stack (how the settings
tables and the speed steps in docs/benchmarks.md were measured):

    python -m bench.compare --rounds 2 CONTROLLER_WORKERS=1 CONTROLLER_WORKERS=2 INVOKER_THREADS=32
    git worktree add /tmp/before HEAD~1
    python -m bench.compare --rounds 3 code=/tmp/before code=.

Each argument is one configuration: comma-separated ``SQUALL_``-less settings, and ``code=DIR`` to run the
stack from the checkout at DIR (put first on the import path). Per run: a 4 s unmeasured warm-up; sequential
warm blocking invokes (latency); ``--clients`` blocking for ``--seconds``; then non-blocking for ``--seconds``
and until every accepted activation has its record. One JSON line per run: rates, latency, and the CPU of the
controller (all its workers) and of the invoker per activation in each phase. Rounds alternate the
configurations, every other round in reverse order, so that outside load and the shared store's growth hit
them alike.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import stack, stats, workload
from bench.client import ApiClient
from bench.processes import cpu_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+",
                        help="e.g. CONTROLLER_WORKERS=1, INVOKER_THREADS=8,CONTROLLER_WORKERS=2, code=/tmp/before")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--sequential", type=int, default=300, help="sequential warm invokes (0: none)")
    args = parser.parse_args()
    configs = [dict(item.split("=", 1) for item in config.split(",")) for config in args.configs]
    auth = ":".join(stack.GUEST_AUTH)
    with tempfile.TemporaryDirectory(prefix="squall-compare-") as tmp:
        workdir = Path(tmp)
        binary = stack.pouchdb_binary()
        if binary is None:
            raise SystemExit("no pouchdb-server found")
        couch, pouch = stack.start_pouchdb(binary, workdir)
        try:
            for round_ in range(args.rounds):
                for config in _order(configs, round_):
                    print(json.dumps(_one(config, round_, couch, workdir, auth, args)), flush=True)
        finally:
            stack.stop(pouch)


def _order(configs: list[dict[str, str]], round_: int) -> list[dict[str, str]]:
    """Every other round backwards (A B, B A, ...): every run shares one pouchdb-server, which grows with each run's
    records, so a configuration always run last in its round would always meet the slowest store."""
    return configs if round_ % 2 == 0 else configs[::-1]


def _env(config: dict[str, str], couch: str) -> dict[str, str]:
    settings = {f"SQUALL_{k}": v for k, v in config.items() if k != "code"}
    extra = {"SQUALL_INVOKER_USER_MEMORY_MB": "8192", "SQUALL_LIMITS_INVOCATIONS_PER_MINUTE": "1000000000",
             "SQUALL_LIMITS_FIRES_PER_MINUTE": "1000000000", "SQUALL_LIMITS_CONCURRENT_INVOCATIONS": "1000000000",
             **settings}
    base = dict(os.environ)
    if "code" in config:
        base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(config["code"]).resolve()),
                                                           base.get("PYTHONPATH", "")]))
    return stack.stack_env(base, couch, stack.new_run_id(), stack.free_port(), extra)


class _Cpu:
    """CPU seconds of the controller (with its workers) and the invoker since the last ``per``."""

    def __init__(self, running: stack.RunningStack) -> None:
        self._pids = (running.controller.pid, running.invoker.pid)
        self._last = self._now()

    def _now(self) -> tuple[float, float]:
        return cpu_seconds(self._pids[0]), cpu_seconds(self._pids[1])

    def per(self, activations: int) -> tuple[float, float]:
        """(controller, invoker) ms of CPU per activation since the previous call."""
        now = self._now()
        spent = (now[0] - self._last[0], now[1] - self._last[1])
        self._last = now
        n = max(activations, 1)
        return round(1000 * spent[0] / n, 2), round(1000 * spent[1] / n, 2)


def _one(config: dict[str, str], round_: int, couch: str, workdir: Path, auth: str,
         args: argparse.Namespace) -> dict[str, Any]:
    env = _env(config, couch)
    stack.squall(env, "admin", "seed")
    logs = workdir / stack.new_run_id()
    logs.mkdir()
    running = stack.start_stack(env, logs)
    out: dict[str, Any] = {"config": config, "round": round_}
    try:
        client = ApiClient(running.url, auth)
        workload.put_action(client, "compare")
        client.close()
        workload.closed_loop(running.url, auth, "compare", args.clients, 4.0, blocking=True)  # warm-up
        cpu = _Cpu(running)
        if args.sequential:
            warm = stats.summarize(workload.warm_latency(running.url, auth, "compare", args.sequential, warmup=0))
            out["warm_p50_ms"], out["warm_p99_ms"] = warm["p50"], warm["p99"]
            out["cpu_ms_warm"] = cpu.per(args.sequential)
        blocking = workload.closed_loop(running.url, auth, "compare", args.clients, args.seconds, blocking=True)
        out["blocking_per_s"] = round(blocking.per_s, 1)
        out["cpu_ms_blocking"] = cpu.per(blocking.completed)
        started = time.monotonic()
        nonblocking = workload.closed_loop(running.url, auth, "compare", args.clients, args.seconds,
                                           blocking=False)
        finder = workload.CouchRecords(couch, env["SQUALL_COUCHDB_PREFIX"], "guest")
        try:
            missing, _ = workload.await_records(finder, nonblocking.activation_ids, stall_s=30.0, poll_s=0.25)
        finally:
            finder.close()
        took = time.monotonic() - started
        done = len(nonblocking.activation_ids) - len(missing)
        out["nonblocking_accepted_per_s"] = round(nonblocking.per_s, 1)
        out["nonblocking_completed_per_s"] = round(done / took, 1)
        out["nonblocking_missing"] = len(missing)
        out["cpu_ms_nonblocking"] = cpu.per(done)
    finally:
        running.stop()
    out["load_avg"] = round(os.getloadavg()[0], 1)
    return out


if __name__ == "__main__":
    main()
