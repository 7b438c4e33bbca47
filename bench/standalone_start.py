"""Time from `./standalone` to the first answered invoke, then warm blocking invokes, in a fresh data dir.

    python bench/standalone_start.py --containers process -n 300

Starts ./standalone as a user does (its own port and invoker name), stops it with SIGTERM afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

GUEST = ("23bc46b1-71f6-4ed5-8c54-816aa4f8c502", "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP")
HELLO = "def main(args):\n    return {'greeting': 'Hello ' + args.get('name', 'stranger')}\n"
SCRIPT = Path(__file__).resolve().parents[1] / "standalone"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", choices=["process", "docker"], default="process")
    parser.add_argument("--port", type=int, default=3290)
    parser.add_argument("-n", type=int, default=300)
    args = parser.parse_args()
    url = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory() as data:
        started = time.monotonic()
        process = subprocess.Popen([str(SCRIPT), "--data-dir", data, "--port", str(args.port), "--containers",
                                    args.containers, "--name", f"bench{os.getpid()}"],
                                   # OpenWhisk's 60 invokes a minute would throttle the loop below
                                   env={**os.environ, "SQUALL_LIMITS_INVOCATIONS_PER_MINUTE": "1000000"},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            with httpx.Client(base_url=url, auth=GUEST, timeout=60) as api:
                while True:  # polling a server that is starting
                    try:
                        if api.put("/api/v1/namespaces/_/actions/hello",
                                   json={"exec": {"kind": "python:default", "code": HELLO}}).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if process.poll() is not None:
                        raise SystemExit("standalone exited before it answered")
                    time.sleep(0.02)
                up = time.monotonic() - started
                first = api.post("/api/v1/namespaces/_/actions/hello", params={"blocking": "true", "result": "true"})
                answered = time.monotonic() - started
                assert first.json() == {"greeting": "Hello stranger"}, first.text
                times = []
                for i in range(args.n):
                    begin = time.perf_counter()
                    reply = api.post("/api/v1/namespaces/_/actions/hello", json={"name": str(i)},
                                     params={"blocking": "true", "result": "true"})
                    times.append((time.perf_counter() - begin) * 1000)
                    assert reply.status_code == 200, reply.text
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(60)
            shutil.rmtree(Path(tempfile.gettempdir()) / f"squall-bench{os.getpid()}", ignore_errors=True)
    times.sort()
    print(f"{args.containers}: API up after {up:.2f} s, first invoke answered after {answered:.2f} s "
          f"(its cold start {1000 * (answered - up):.0f} ms); warm blocking invoke over {args.n}: "
          f"p50 {statistics.median(times):.2f} ms, p90 {times[int(0.9 * len(times)) - 1]:.2f} ms, "
          f"max {times[-1]:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
