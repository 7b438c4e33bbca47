"""What pausing idle warm containers costs against keeping them running, on this machine.

    python bench/pause_cost.py [-n 30] [--idle-s 10] [--image squall/action-python-v3:latest]

Starts containers of the python runtime through Squall's own Docker factory (same limits and network as
an invoker), initialises a no-op action, then measures:
* per invoke: ``/run`` on a running warm container, and unpause + ``/run`` (+ the pause that follows);
* while idle for ``--idle-s``: CPU used by a warm container left running, by one paused, and by one whose
  action left a busy thread behind after returning (the case pausing protects against);
* memory in use by a running and by a paused container (cgroup ``memory.usage_in_bytes``).
Prints the numbers; the README's "Container pool" section quotes them.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
from pathlib import Path
from typing import Any

from config.settings import InvokerSettings
from workers.factories.base import ContainerSpec
from workers.factories.docker import DockerContainer, DockerContainerFactory
from workers.proxy_client import ProxyClient

NOOP = "def main(args):\n    return {'ok': True}\n"
SPINNER = """
import threading
def spin():
    while True:
        pass
def main(args):
    threading.Thread(target=spin, daemon=True).start()
    return {'ok': True}
"""
CGROUP = Path("/sys/fs/cgroup")


def cgroup_value(container_id: str, controller: str, name: str) -> int:
    for folder in (CGROUP / controller / "docker" / container_id, CGROUP / "docker" / container_id):
        path = folder / name
        if path.exists():
            return int(path.read_text().split()[0])
    raise FileNotFoundError(f"no {controller}/{name} for {container_id[:12]} (cgroup v1, cgroupfs driver assumed)")


def cpu_ms(container_id: str) -> float:
    return cgroup_value(container_id, "cpuacct", "cpuacct.usage") / 1e6


def memory_mib(container_id: str) -> float:
    return cgroup_value(container_id, "memory", "memory.usage_in_bytes") / 2**20


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def warm(container: DockerContainer, code: str) -> ProxyClient:
    proxy = ProxyClient(container.host, container.port)
    init = proxy.init({"value": {"name": "bench", "main": "main", "code": code, "binary": False, "env": {}}}, 30)
    assert init.status == 200, init.text
    assert proxy.run({"value": {}}, 30).status == 200
    return proxy


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="invokes per case")
    parser.add_argument("--idle-s", type=float, default=10.0, help="idle window for the CPU measurement")
    parser.add_argument("--image", default="squall/action-python-v3:latest")
    args = parser.parse_args()
    settings = InvokerSettings(name=f"bench{secrets.token_hex(3)}", user_memory_mb=2048)
    factory = DockerContainerFactory(settings, "http://127.0.0.1:3233")
    spec = ContainerSpec(args.image, 256, "bench", "pause-cost", "python:3")
    try:
        running, paused, spinner = (factory.create(spec) for _ in range(3))
        proxies = {c.id: warm(c, SPINNER if c is spinner else NOOP) for c in (running, paused, spinner)}

        run_ms = [timed(lambda: proxies[running.id].run({"value": {}}, 30)) for _ in range(args.n)]
        unpause_ms, unpause_run_ms, pause_ms = [], [], []
        for _ in range(args.n):
            pause_ms.append(timed(paused.pause))
            unpause_ms.append(timed(paused.resume))
            unpause_run_ms.append(unpause_ms[-1] + timed(lambda: proxies[paused.id].run({"value": {}}, 30)))
        paused.pause()

        before = {c.id: cpu_ms(c.id) for c in (running, paused, spinner)}
        time.sleep(args.idle_s)  # the measured window itself, not synchronisation
        idle_cpu = {cid: (cpu_ms(cid) - ms) / args.idle_s for cid, ms in before.items()}
        mem_running, mem_paused = memory_mib(running.id), memory_mib(paused.id)

        print(f"runs per case: {args.n}; idle window: {args.idle_s:.0f} s; image {args.image}")
        print(f"warm /run, container running:  p50 {pct(run_ms, 50):6.2f} ms  p90 {pct(run_ms, 90):6.2f} ms")
        print(f"unpause:                       p50 {pct(unpause_ms, 50):6.2f} ms  p90 {pct(unpause_ms, 90):6.2f} ms")
        print(f"unpause + warm /run:           p50 {pct(unpause_run_ms, 50):6.2f} ms  "
              f"p90 {pct(unpause_run_ms, 90):6.2f} ms")
        print(f"pause (after the reply):       p50 {pct(pause_ms, 50):6.2f} ms  p90 {pct(pause_ms, 90):6.2f} ms")
        print(f"added per invoke by pausing:   {statistics.median(unpause_run_ms) - statistics.median(run_ms):6.2f} ms"
              " on the reply path (unpause), plus a pause off it")
        print(f"idle CPU, running no-op:       {idle_cpu[running.id]:8.3f} ms CPU per s")
        print(f"idle CPU, paused:              {idle_cpu[paused.id]:8.3f} ms CPU per s")
        print(f"idle CPU, running, busy thread left behind: {idle_cpu[spinner.id]:8.1f} ms CPU per s")
        print(f"memory in use: running {mem_running:.1f} MiB, paused {mem_paused:.1f} MiB")
        for proxy in proxies.values():
            proxy.close()
    finally:
        factory.cleanup()
        factory.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
