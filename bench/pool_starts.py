"""Cold start, prewarm hit and warm invoke through the invoker and the real Docker pool, and how many
256 MB actions one invoker runs at once.

    PYTHONPATH=. .venv/bin/python bench/pool_starts.py [-n 10] [--parallel 32]    # from the repository root

Runs the invoker in this process (records kept in memory, no broker): what is measured is the
invoker's own path, from the activation message to the stored record. Prints p50/p90 of the record's
duration plus initTime and of the wall time per invoke, for:
* cold: a new action, no stem cell (a container is started on the reply path);
* prewarm hit: a new action that takes a python stem cell (only /init on the reply path);
* warm: the same action again;
then ``--parallel`` activations of 256 MB actions that each sleep 2 s, all at once, with user memory
for exactly that many: the wall time shows whether they ran side by side.
"""

from __future__ import annotations

import argparse
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.core.entities import Action, ActivationMessage, Exec, Status, annotation, new_activation_id, now_ms
from app.core.limits import ActionLimits
from app.core.manifest import RuntimeManifest
from app.core.names import EntityPath
from app.state.journal import MemoryJournal
from config.settings import Settings
from tests.fakes import DictActivationStore, DictEntityStore
from workers.factories.docker import DockerContainerFactory
from workers.invoker import Invoker
from workers.pool import ContainerPool
from workers.startup import stem_cell_specs

NOOP = "def main(args):\n    return {'ok': True}\n"
SLEEP = "import time\ndef main(args):\n    time.sleep(2)\n    return {'ok': True}\n"


class Bench:
    def __init__(self, settings: Settings, prewarm: bool) -> None:
        manifest = RuntimeManifest.load(settings.runtimes.manifest_path)
        self.factory = DockerContainerFactory(settings.invoker, settings.controller.api_host)
        self.pool = ContainerPool(self.factory, settings.invoker,
                                  stem_cells=stem_cell_specs(manifest) if prewarm else ())
        self.entities = DictEntityStore()
        self.invoker = Invoker(self.entities, DictActivationStore(), self.pool, manifest, settings, MemoryJournal())

    def action(self, code: str, memory: int = 256) -> Action:
        name = f"b{secrets.token_hex(4)}"
        return self.entities.put_action(Action(EntityPath("guest", name), Exec("python:3", code=code),
                                               ActionLimits(60_000, memory, 10, 1)))

    def invoke(self, action: Action) -> tuple[Any, float]:
        msg = ActivationMessage(activation_id=new_activation_id(), transaction_id="t", namespace="guest",
                                subject="guest", action=action.path.doc_id, revision=action.rev or "", content={},
                                blocking=True, received_ms=now_ms())
        start = time.perf_counter()
        activation = self.invoker.invoke(msg, lambda _doc: None)
        assert activation.status == Status.SUCCESS, activation.result
        return activation, (time.perf_counter() - start) * 1000

    def close(self) -> None:
        self.invoker.close()
        self.factory.cleanup()
        self.factory.close()


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def report(label: str, rows: list[tuple[Any, float]]) -> None:
    walls = [wall for _, wall in rows]
    inits = [annotation(a.annotations, "initTime") or 0 for a, _ in rows]
    waits = [annotation(a.annotations, "waitTime") or 0 for a, _ in rows]
    print(f"{label:<12} wall p50 {pct(walls, 50):7.1f} ms  p90 {pct(walls, 90):7.1f} ms   "
          f"waitTime p50 {pct(waits, 50):5.0f} ms   initTime p50 {pct(inits, 50):5.0f} ms   (n={len(rows)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=32)
    args = parser.parse_args()
    base = Settings().replace(invoker={"name": f"bench{secrets.token_hex(3)}", "user_memory_mb": 2048})

    cold = Bench(base, prewarm=False)
    try:
        rows = [cold.invoke(cold.action(NOOP)) for _ in range(args.n)]
        report("cold", rows)
        warm_action = cold.action(NOOP)
        cold.invoke(warm_action)
        report("warm", [cold.invoke(warm_action) for _ in range(max(args.n, 50))])
    finally:
        cold.close()

    # Memory for every action's container and the stem cells: stem cells never evict warm containers.
    hot = Bench(base.replace(invoker={"name": f"bench{secrets.token_hex(3)}",
                                      "user_memory_mb": 256 * (args.n + 4)}), prewarm=True)
    try:
        rows = []
        for _ in range(args.n):
            assert hot.pool.wait_prewarmed(60)
            rows.append(hot.invoke(hot.action(NOOP)))
        report("prewarm hit", rows)
    finally:
        hot.close()

    wide = Bench(base.replace(invoker={"name": f"bench{secrets.token_hex(3)}",
                                       "user_memory_mb": 256 * args.parallel, "threads": args.parallel}),
                 prewarm=False)
    try:
        actions = [wide.action(SLEEP) for _ in range(args.parallel)]
        start = time.perf_counter()
        with ThreadPoolExecutor(args.parallel) as executor:
            done = list(executor.map(wide.invoke, actions))
        wall = time.perf_counter() - start
        slowest = max((annotation(a.annotations, "waitTime") or 0) + (annotation(a.annotations, "initTime") or 0)
                      for a, _ in done)
        print(f"{args.parallel} cold 256 MB actions sleeping 2 s, all at once: {wall:.1f} s wall "
              f"(serial would be {2 * args.parallel} s); slowest waitTime+initTime {slowest} ms")
    finally:
        wide.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
