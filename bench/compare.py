"""Compare settings by interleaved short runs, each on a fresh stack (how the README's settings table was made):

    python -m bench.compare --rounds 2 CONTROLLER_WORKERS=1 CONTROLLER_WORKERS=2 INVOKER_THREADS=32

Each argument is one configuration: comma-separated ``SQUALL_``-less settings. Per run: a 4 s unmeasured
warm-up, then 16 clients blocking, then non-blocking; prints one JSON line per run (rates, and the
controller's CPU per request). Rounds alternate the configurations so that outside load hits them alike.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from bench import stack, workload
from bench.client import ApiClient
from bench.processes import cpu_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+",
                        help="e.g. CONTROLLER_WORKERS=1 or INVOKER_THREADS=8,CONTROLLER_WORKERS=2")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
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
                for config in configs:
                    print(json.dumps(_one(config, round_, couch, workdir, auth, args.clients, args.seconds)),
                          flush=True)
        finally:
            stack.stop(pouch)


def _one(config: dict[str, str], round_: int, couch: str, workdir: Path, auth: str, clients: int,
         seconds: float) -> dict[str, object]:
    extra = {"SQUALL_INVOKER_USER_MEMORY_MB": "8192", "SQUALL_LIMITS_INVOCATIONS_PER_MINUTE": "1000000000",
             **{f"SQUALL_{k}": v for k, v in config.items()}}
    env = stack.stack_env(os.environ, couch, stack.new_run_id(), stack.free_port(), extra)
    stack.squall(env, "admin", "seed")
    logs = workdir / stack.new_run_id()
    logs.mkdir()
    running = stack.start_stack(env, logs)
    try:
        client = ApiClient(running.url, auth)
        workload.put_action(client, "compare")
        client.close()
        workload.closed_loop(running.url, auth, "compare", clients, 4.0, blocking=True)  # warm-up
        cpu0 = cpu_seconds(running.controller.pid)
        blocking = workload.closed_loop(running.url, auth, "compare", clients, seconds, blocking=True)
        cpu1 = cpu_seconds(running.controller.pid)
        nonblocking = workload.closed_loop(running.url, auth, "compare", clients, seconds, blocking=False)
        cpu2 = cpu_seconds(running.controller.pid)
    finally:
        running.stop()
    return {"config": config, "round": round_, "load_avg": round(os.getloadavg()[0], 1),
            "blocking_per_s": round(blocking.per_s, 1), "nonblocking_per_s": round(nonblocking.per_s, 1),
            "controller_cpu_ms_blocking": round(1000 * (cpu1 - cpu0) / max(blocking.completed, 1), 2),
            "controller_cpu_ms_nonblocking": round(1000 * (cpu2 - cpu1) / max(nonblocking.completed, 1), 2)}


if __name__ == "__main__":
    main()
