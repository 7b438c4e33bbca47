"""The soak: an open-loop load of ``rate`` blocking invokes a second for ``seconds``, spread at random over
``actions`` Python actions that each sleep ``sleep_ms``, against a stack started as ``squall bench`` starts
one (``bench.run.bench_stack``). It shows whether the invoker's container pool keeps up or thrashes: a pool
that evicts the containers its next requests need starts containers all the time, and the cold starts eat
the CPU the warm runs need.

    squall bench --scenario soak --rate 50 --seconds 120 --actions 8 --invoker-memory-mb 2048

Open loop: requests are due at exponentially spaced times (Poisson arrivals, seeded) whatever the answers
do, and latency runs from the time a request was due, so a stack that falls behind shows it as latency
instead of slowing the load down. Reported: the achieved rate (successful answers within the window ÷ its
length), latency p50/p99, the share of cold starts (activations whose record has an ``initTime``), and the
containers the invoker created from the window's start until the last answer (Docker's create events for
its label; stem cells apart).

Every loop is bounded: at most ``rate × seconds`` requests, and senders give up on requests not sent within
``drain_s`` after the window (counted as not sent); the answers are awaited for at most that long.
"""

from __future__ import annotations

import json
import os
import platform
import queue
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import stack, workload
from bench.client import ApiClient
from bench.run import BenchOptions, Progress, bench_stack
from bench.stats import summarize

SLEEPER = ("import time\n"
           "def main(args):\n"
           "    time.sleep(args.get('sleep_ms', 0) / 1000)\n"
           "    return {}\n")


@dataclass(frozen=True)
class SoakCounts:
    rate: float = 50.0  # requests a second, on average
    seconds: float = 60.0
    actions: int = 8
    sleep_ms: int = 100  # each activation's own work: short, so the pool's behaviour is what shows
    senders: int = 128  # concurrent blocking requests at most: the controller's threads (2 workers × 64)
    drain_s: float = 75.0  # after the window: longer than a blocking invoke may take (60 s)
    seed: int = 13


SMOKE = SoakCounts(rate=5.0, seconds=3.0, actions=2, sleep_ms=10, senders=8, drain_s=30.0)
"""Tiny counts that exercise the scenario; its numbers mean nothing."""


@dataclass
class _Tally:
    """What the senders saw, gathered under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies_ms: list[float] = field(default_factory=list)  # successful answers within the window
    late_ms: list[float] = field(default_factory=list)  # successful answers after the window
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    answered: int = 0  # activations whose record came back (200 or 502): the base of the cold share
    cold: int = 0
    not_sent: int = 0
    ends: list[float] = field(default_factory=list)
    cold_ends: list[float] = field(default_factory=list)


def run(options: BenchOptions, counts: SoakCounts, progress: Progress, environ: Mapping[str, str]) -> dict[str, Any]:
    """One soak against the stack ``options`` describe; the results as a JSON-ready dict."""
    run_id = stack.new_run_id()
    started = datetime.now(UTC)
    with ExitStack() as cleanup:
        workdir = options.workdir or Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="squall-soak-")))
        workdir.mkdir(parents=True, exist_ok=True)
        s = cleanup.enter_context(bench_stack(options, environ, workdir, run_id, progress))
        load_before = list(os.getloadavg())
        tick = progress.phase(f"soak: {counts.rate:g} req/s for {counts.seconds:g} s over {counts.actions} actions",
                              int(counts.rate * counts.seconds))
        figures = run_soak(s.url, s.auth, s.invoker, counts, run_id, tick)
    mine = options.target is None  # a target's settings are its own and unknown here
    return {
        "version": 1,
        "scenario": "soak",
        "started": started.isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_avg": load_before, "load_avg_after": list(os.getloadavg()),
                    "python": platform.python_version(), "platform": platform.platform()},
        "options": {"target": options.target.apihost if options.target else None,
                    "invoker_memory_mb": s.settings.invoker.user_memory_mb if mine else None,
                    "invoker_threads": s.settings.invoker.threads if mine else None},
        "figures": figures,
    }


def run_soak(url: str, auth: str, invoker: str | None, counts: SoakCounts, run_id: str,
             tick: Callable[[int], None]) -> dict[str, Any]:
    """Create the actions, invoke each once (unmeasured: every action starts with one warm container),
    then the window; returns the figures as a JSON-ready dict."""
    names = [f"soak-{run_id}-{i}" for i in range(counts.actions)]
    client = ApiClient(url, auth)
    try:
        for name in names:
            workload.put_action(client, name, code=SLEEPER)
            client.json("POST", workload.action_path(name), {}, blocking="true", result="true")
    finally:
        client.close()

    rng = random.Random(counts.seed)
    total = int(counts.rate * counts.seconds)
    due: queue.Queue[tuple[float, str] | None] = queue.Queue()
    tally = _Tally()
    t0 = time.monotonic() + 0.5  # the senders are up by then
    window_end = t0 + counts.seconds
    give_up = window_end + counts.drain_s

    def sender() -> None:
        api = ApiClient(url, auth, timeout_s=counts.drain_s)
        try:
            while True:
                item = due.get()
                if item is None:
                    return
                at, name = item
                delay = at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # the request is due then: open loop
                if time.monotonic() > give_up:
                    with tally.lock:
                        tally.not_sent += 1
                    continue
                _send(api, name, {"sleep_ms": counts.sleep_ms}, at, window_end, tally)
                tick(1)
        finally:
            api.close()

    counter = CreateCounter(invoker) if invoker else None
    threads = [threading.Thread(target=sender, name=f"soak-sender-{i}", daemon=True)
               for i in range(counts.senders)]
    for thread in threads:
        thread.start()
    at = t0
    for _ in range(total):  # each sender takes the next due request once it is free
        at += rng.expovariate(counts.rate)
        if at > window_end:
            break
        due.put((at, rng.choice(names)))
    for _ in threads:
        due.put(None)
    for thread in threads:
        thread.join(max(give_up + counts.drain_s - time.monotonic(), 0.0))
    ended = time.monotonic()
    created = counter.stop() if counter else None

    with tally.lock:
        sent = sum(tally.statuses.values()) + sum(tally.failures.values())
        buckets = Counter(int(end - t0) for end in tally.ends)
        cold_buckets = Counter(int(end - t0) for end in tally.cold_ends)
        seconds = max(int(counts.seconds), 1)
        return {
            "counts": asdict(counts),
            "due": sent + tally.not_sent,
            "sent": sent,
            "not_sent": tally.not_sent,
            "completed_in_window": len(tally.latencies_ms),
            "completed_after_window": len(tally.late_ms),
            "per_s": round(len(tally.latencies_ms) / counts.seconds, 1),
            "latency_ms": summarize(tally.latencies_ms + tally.late_ms),
            "answered": tally.answered,
            "cold": tally.cold,
            "cold_share": round(tally.cold / tally.answered, 3) if tally.answered else None,
            "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
            "failures": dict(tally.failures),
            "containers_created": created,
            "drained_s": round(max(ended - window_end, 0.0), 1),
            "timeline": [buckets.get(s, 0) for s in range(seconds)],  # successes finished in each second
            "cold_timeline": [cold_buckets.get(s, 0) for s in range(seconds)],
        }


def _send(api: ApiClient, name: str, params: dict[str, Any], due_at: float, window_end: float,
          tally: _Tally) -> None:
    """One blocking invoke (the whole activation comes back: its annotations say cold or warm)."""
    try:
        status, raw = api.request("POST", workload.action_path(name), params, blocking="true")
    except OSError as e:
        with tally.lock:
            tally.failures[type(e).__name__] += 1
        return
    end = time.monotonic()
    cold = False
    answered = status in (200, 502)  # 502: the action or the platform failed, but a record came back
    if answered:
        annotations = {a["key"]: a.get("value") for a in json.loads(raw).get("annotations", [])}
        cold = annotations.get("initTime") is not None
    with tally.lock:
        tally.statuses[status] += 1
        tally.answered += answered
        tally.cold += cold
        if status == 200:
            (tally.latencies_ms if end <= window_end else tally.late_ms).append((end - due_at) * 1000)
            tally.ends.append(end)
            if cold:
                tally.cold_ends.append(end)


class CreateCounter:
    """Counts Docker's create events for one invoker's containers while it runs (a live subscription: the
    engine keeps only its last few hundred events, so asking afterwards misses some on a busy host)."""

    def __init__(self, invoker: str) -> None:
        import docker

        self._client = docker.from_env()
        self._events = self._client.events(decode=True, filters={
            "type": "container", "event": "create", "label": f"{stack.CONTAINER_LABEL}={invoker}"})
        self.total = self.stem_cells = 0
        self._thread = threading.Thread(target=self._count, name="soak-docker-events", daemon=True)
        self._thread.start()

    def _count(self) -> None:
        for event in self._events:  # ends when ``stop`` closes the stream
            self.total += 1
            self.stem_cells += event.get("Actor", {}).get("Attributes", {}).get("squall.prewarm") == "true"

    def stop(self) -> dict[str, int]:
        time.sleep(0.5)  # the last create events are still on their way from the engine
        self._events.close()
        self._thread.join(5.0)
        self._client.close()
        return {"total": self.total, "stem_cells": self.stem_cells, "for_actions": self.total - self.stem_cells}


def summary_rows(figures: dict[str, Any], memory_mb: int | None, threads: int | None) -> list[tuple[str, str]]:
    """(figure, value) lines for the terminal and the Markdown table of docs/benchmarks.md."""
    c = figures["counts"]
    lat = figures["latency_ms"]
    created = figures["containers_created"]
    share = figures["cold_share"]
    return [
        ("load", f"{c['rate']:g} req/s for {c['seconds']:g} s over {c['actions']} actions sleeping "
                 f"{c['sleep_ms']} ms"),
        ("invoker", f"{memory_mb} MB, {threads} threads"),
        ("achieved rate", f"{figures['per_s']} req/s ({figures['completed_in_window']} of {figures['due']} due "
                          "answered 200 within the window)"),
        ("latency p50 / p99", f"{lat['p50']} / {lat['p99']} ms"),
        ("cold starts", "–" if share is None else f"{figures['cold']} of {figures['answered']} ({share:.1%})"),
        ("containers created", "–" if created is None else
         f"{created['total']} ({created['for_actions']} for actions, {created['stem_cells']} stem cells)"),
        ("statuses", ", ".join(f"{k}: {v}" for k, v in figures["statuses"].items()) or "–"),
        ("not sent / failed", f"{figures['not_sent']} / {sum(figures['failures'].values())}"),
    ]
