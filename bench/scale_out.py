"""Scale-out: several invokers, each on a "host" of its own (a network namespace of ``bench.lab``),
sharing the work and covering for each other; the ``process`` container factory, a pouchdb-server, the running
RabbitMQ and Redis.

    .venv/bin/python -m bench.scale_out --invokers 1,2,3 --seconds 20      # from the repository root, as root

Prints three things:

* **throughput**: one hot action sleeping ``--sleep`` s, ``--clients`` blocking clients, invokers of 4 threads and
  1 GB (four 256 MB containers each); per invoker count: activations a second, the ideal (threads × N / sleep),
  the ratio to 0.8 × N × the one-invoker figure, latency and how the runs spread over the invokers;
* **kill -9**: ``--kill-count`` non-blocking activations paced at ``--kill-rate`` a second (plus a burst just before
  the death, and three blocking callers) over three invokers, one of whose hosts dies after 40 % of them: records
  by status (the whisk errors are the activations in flight at the death), how long until the dead invoker's
  queue was empty and until everything outstanding at the death was done, and whether anything was lost or ran
  twice;
* **warm starts**: 20 actions on three invokers at steady load: the share of warm starts after a warm-up.

The scenarios are also the integration tests' (``tests/integration/test_scale_out.py``), which assert on them.
Every loop is bounded in count and time; everything the lab made is removed at the end (also on Ctrl-C).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from app.core.placement import rendezvous
from bench.lab import (
    WHISK_ERROR,
    Call,
    ExactlyOnce,
    Lab,
    Load,
    accepted_ids,
    call,
    error_of,
    exactly_once,
    open_lab,
    prime,
    status_of,
    unavailable,
    wait_recorded,
)
from bench.stack import couch_answers, pouchdb_binary, start_pouchdb, stop
from workers.invoker import REDELIVERED

SMALL = {"SQUALL_INVOKER_THREADS": "4", "SQUALL_INVOKER_USER_MEMORY_MB": "1024"}
"""Invokers of the throughput runs: four 256 MB containers, four threads."""
ROOMY = {"SQUALL_INVOKER_THREADS": "4", "SQUALL_INVOKER_USER_MEMORY_MB": "4096"}
"""Invokers of the kill run: room for every action's containers, so the run is not cold starts."""
WARM = {"SQUALL_INVOKER_THREADS": "4", "SQUALL_INVOKER_USER_MEMORY_MB": "8192"}
"""Invokers of the warm-start run: 32 containers each. With 16 (4 GB) the warm share hovers near 91 %: overflow
and concurrency put containers of the same actions on every invoker, memory fills and warm ones are evicted."""

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


# --- throughput --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Throughput:
    invokers: int
    per_s: float
    ideal_per_s: float  # every thread of every invoker busy sleeping
    by_invoker: dict[str, int]  # measured runs per invoker (recorder)
    live: list[str]
    p50_s: float
    p95_s: float
    errors: dict[int, int]  # status code → count, of calls that did not answer 200
    error_bodies: list[dict[str, Any]]


def throughput(lab: Lab, counts: Iterable[int], *, clients: int = 64, sleep_s: float = 0.5, warmup_s: float = 3.0,
               seconds: float = 8.0, env: dict[str, str] | None = None,
               progress: Progress = _quiet) -> list[Throughput]:
    """For each invoker count (ascending; invokers are added, never removed), ``clients`` blocking clients of one
    hot action for ``warmup_s`` + ``seconds``; activations a second over the last ``seconds``."""
    env = env or SMALL
    threads = int(env["SQUALL_INVOKER_THREADS"])
    with lab.client() as client:
        lab.put_action(client, "hot")
    rows: list[Throughput] = []
    for n in sorted(set(counts)):
        while sum(1 for i in lab.invokers.values() if i.alive) < n:
            lab.add_invoker(env)
        prime(lab, "hot")
        progress(f"throughput with {n} invoker(s): {warmup_s:.0f} s warm-up, {seconds:.0f} s measured")
        load = Load(lab, ["hot"], sleep_s, clients, seconds=warmup_s + seconds)
        begin = time.time() + warmup_s
        calls = load.finish()
        end = begin + seconds
        measured = [c for c in calls if c.status == 200 and begin <= c.done < end]
        ids = {c.activation_id for c in measured if c.activation_id}
        wait_recorded(lab, ids, 10.0)
        waits = sorted(c.waited for c in measured) or [0.0]
        rows.append(Throughput(
            invokers=n, per_s=len(measured) / seconds, ideal_per_s=n * threads / sleep_s,
            by_invoker=lab.runs_by_invoker(ids), live=[i.name for i in lab.invokers.values() if i.alive],
            p50_s=statistics.median(waits), p95_s=waits[min(len(waits) - 1, int(len(waits) * 0.95))],
            errors=dict(Counter(c.status for c in calls if c.status != 200)),
            error_bodies=[c.body for c in calls if c.status != 200][:5],
        ))
    return rows


def throughput_table(rows: list[Throughput]) -> str:
    one = next((r.per_s for r in rows if r.invokers == 1), None)
    lines = [f"{'invokers':>8}  {'per s':>7}  {'ideal':>6}  {'vs 0.8×N×one':>12}  {'p50 s':>6}  {'p95 s':>6}  "
             "runs by invoker"]
    for r in rows:
        ratio = f"{r.per_s / (0.8 * r.invokers * one):.2f}" if one else "-"
        spread = " ".join(f"{count}" for _, count in sorted(r.by_invoker.items()))
        errors = f"  errors {r.errors}" if r.errors else ""
        lines.append(f"{r.invokers:>8}  {r.per_s:>7.1f}  {r.ideal_per_s:>6.1f}  {ratio:>12}  {r.p50_s:>6.2f}  "
                     f"{r.p95_s:>6.2f}  {spread}{errors}")
    return "\n".join(lines)


# --- kill -9 ------------------------------------------------------------------------------------------------------


@dataclass
class Kill:
    victim: str
    died_after_s: float  # since the paced load started
    queued_at_death: int  # the victim's queue just after the death (its taken-but-unacked messages requeued)
    emptied_s: float | None  # since the death, until that queue was empty (None: not within the wait)
    departed: bool  # out of the registry after the load
    accepted: list[Call]  # non-blocking
    blocking: list[Call]
    check: ExactlyOnce
    refused: dict[int, int]  # non-blocking invokes not answered 202
    whisk_errors: set[str]
    redelivered: set[str]  # whisk errors that are the designed "not run again" record
    outstanding: int  # accepted before the death and not run by then
    drained_s: float  # since the death, until every outstanding one was done
    late: dict[str, float] = field(default_factory=dict)  # outstanding ones done after ``handoff_s``
    by_invoker: dict[str, int] = field(default_factory=dict)
    handed_off: int = 0  # messages the others moved from the victim's queue (their logs)

    @property
    def longest_blocking_s(self) -> float:
        return max((c.waited for c in self.blocking), default=0.0)

    def summary(self) -> str:
        return (f"{len(self.accepted)} non-blocking + {len(self.blocking)} blocking; {self.victim} died "
                f"{self.died_after_s:.1f} s in with {self.queued_at_death} queued; its queue was empty "
                f"{'never' if self.emptied_s is None else f'{self.emptied_s:.1f} s'} after the death "
                f"({self.handed_off} messages handed off); records by status {dict(self.check.statuses)} "
                f"(whisk errors = in flight at the death: {len(self.whisk_errors)}, of them 'not run again': "
                f"{len(self.redelivered)}); {self.outstanding} outstanding at the death, all done "
                f"{self.drained_s:.1f} s after it; lost {len(self.check.missing)}, ran twice {len(self.check.twice)}; "
                f"runs by invoker {self.by_invoker}; blocking callers "
                f"{dict(Counter(c.status for c in self.blocking))}, longest wait {self.longest_blocking_s:.1f} s")


def kill(lab: Lab, *, count: int = 1000, rate: float = 30.0, at: float = 0.4, burst: int = 36,
         sleep_s: float = 0.05, burst_sleep_s: float = 0.5, blocking_sleep_s: float = 0.5, blocking_clients: int = 3,
         handoff_s: float = 10.0, env: dict[str, str] | None = None, progress: Progress = _quiet) -> Kill:
    """Three invokers; ``count`` non-blocking activations at ``rate`` a second and ``blocking_clients`` blocking
    callers; after ``at`` of them a burst of ``burst`` (so the victim has a queue), then the second invoker's host
    dies (every process of its namespace SIGKILLed)."""
    assert lab.recorder is not None
    invokers = [lab.add_invoker(env or ROOMY) for _ in range(3)]
    victim = invokers[1]
    actions = [f"kill{k}" for k in range(6)]
    with lab.client() as client:
        for action in actions:
            lab.put_action(client, action)
    prime(lab, actions[0])
    Load(lab, actions, sleep_s, 12, seconds=2.0).finish()  # containers everywhere before the clock runs
    progress(f"kill -9: {count} non-blocking at {rate:.0f}/s, {victim.name} dies after {at:.0%} of them")

    accepted: list[Call] = []
    lock = threading.Lock()
    start = time.time() + 0.2
    submitters = 4

    def submit(k: int) -> None:
        with lab.client() as client:
            for i in range(k, count, submitters):
                delay = start + i / rate - time.time()
                if delay > 0:
                    time.sleep(delay)
                result = call(client, actions[i % len(actions)], sleep_s, blocking=False)
                with lock:
                    accepted.append(result)

    threads = [threading.Thread(target=submit, args=(k,), daemon=True) for k in range(submitters)]
    for thread in threads:
        thread.start()
    callers = Load(lab, actions, blocking_sleep_s, blocking_clients, seconds=count / rate + 1)
    time.sleep(max(start + count * at / rate - time.time(), 0))
    with lab.client() as client, concurrent.futures.ThreadPoolExecutor(6) as pool:
        bursting = list(pool.map(lambda k: call(client, actions[k % len(actions)], burst_sleep_s, blocking=False),
                                 range(burst)))
    died = lab.kill(victim.name)
    ran_before = {run.activation_id for run in lab.recorder.runs() if run.received < died}
    queued_at_death = lab.queued(victim.name) or 0
    emptied = None
    while time.time() < died + handoff_s + 5:
        if not lab.queued(victim.name):
            emptied = time.time() - died
            break
        time.sleep(0.1)
    for thread in threads:
        thread.join(timeout=count / rate + 90)
    blocking = callers.stop()
    departed = victim.name not in lab.reports()
    accepted += bursting

    calls = accepted + blocking
    check = exactly_once(lab, calls)
    whisk_errors = {i for i, r in check.records.items() if status_of(r) == WHISK_ERROR}
    # Outstanding at the death: accepted before it and not run by then. Done: its run's post to the recorder, or
    # the end of its record (the "not run again" whisk error written when its message was handed off).
    runs = {run.activation_id: run.received for run in lab.recorder.runs()}
    ids = accepted_ids(calls)
    outstanding = {c.activation_id for c in calls if c.activation_id in ids and c.sent < died} - ran_before
    finished = {i: runs.get(i, check.records.get(i, {}).get("end", float("inf")) / 1000) for i in outstanding}
    drained = max(finished.values(), default=died) - died
    return Kill(
        victim=victim.name, died_after_s=died - start, queued_at_death=queued_at_death, emptied_s=emptied,
        departed=departed, accepted=accepted, blocking=blocking, check=check,
        refused=dict(Counter(c.status for c in accepted if c.status != 202)), whisk_errors=whisk_errors,
        redelivered={i for i in whisk_errors if error_of(check.records[i]) == REDELIVERED},
        outstanding=len(outstanding), drained_s=drained,
        late={i: round(t - died, 1) for i, t in finished.items() if t - died > handoff_s},
        by_invoker=lab.runs_by_invoker(ids), handed_off=lab.handoffs().get(victim.name, 0),
    )


# --- warm starts --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Warm:
    measured: int
    cold: int
    off_home: int  # ran elsewhere than the action's home invoker (overflow)
    off_home_cold: int
    by_invoker: dict[str, int]
    errors: dict[int, int]

    @property
    def share(self) -> float:
        return 1 - self.cold / self.measured if self.measured else 0.0

    def summary(self, actions: int, warmup_s: float) -> str:
        return (f"{self.measured} activations of {actions} actions after a {warmup_s:.0f} s warm-up: "
                f"{self.share:.1%} warm ({self.cold} cold); {self.off_home} ran off their action's home invoker "
                f"({self.off_home_cold} of them cold); runs by invoker {self.by_invoker}"
                + (f"; errors {self.errors}" if self.errors else ""))


def warm(lab: Lab, *, actions: int = 20, clients: int = 6, sleep_s: float = 0.1, warmup_s: float = 8.0,
         seconds: float = 10.0, env: dict[str, str] | None = None, progress: Progress = _quiet) -> Warm:
    """Three invokers, ``actions`` actions called at random by ``clients`` blocking clients; warm starts over the
    last ``seconds`` (a record without ``initTime`` is a warm start)."""
    assert lab.recorder is not None
    names = [lab.add_invoker(env or WARM).name for _ in range(3)]
    action_names = [f"warm{k}" for k in range(actions)]
    with lab.client() as client:
        for action in action_names:
            lab.put_action(client, action)
    prime(lab, action_names[0])
    progress(f"warm starts: {actions} actions, {clients} clients, {warmup_s:.0f} s warm-up, {seconds:.0f} s measured")
    load = Load(lab, action_names, sleep_s, clients, seconds=warmup_s + seconds, shuffle=True)
    begin = time.time() + warmup_s
    calls = load.finish()
    measured = [c for c in calls if c.sent >= begin and c.status == 200]
    ran_on = {run.activation_id: lab.invoker_at(run.source) for run in lab.recorder.runs()}
    off_home = [c for c in measured
                if ran_on.get(c.activation_id or "") != rendezvous(f"guest|guest/{c.action}", names)[0]]
    return Warm(measured=len(measured), cold=sum(1 for c in measured if c.cold), off_home=len(off_home),
                off_home_cold=sum(1 for c in off_home if c.cold),
                by_invoker=lab.runs_by_invoker({c.activation_id for c in measured if c.activation_id}),
                errors=dict(Counter(c.status for c in calls if c.status != 200)))


# --- the command ------------------------------------------------------------------------------------------------


def _interrupted(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # so the lab is cleaned up as on Ctrl-C


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_out", description=__doc__.splitlines()[0])
    parser.add_argument("--invokers", default="1,2,3", help="invoker counts of the throughput runs (default 1,2,3)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="measured seconds of each throughput run and of the warm-start run (default 20)")
    parser.add_argument("--clients", type=int, default=64, help="blocking clients of the throughput runs")
    parser.add_argument("--sleep", type=float, default=0.5, help="seconds the hot action sleeps")
    parser.add_argument("--kill-count", type=int, default=1000)
    parser.add_argument("--kill-rate", type=float, default=30.0, help="non-blocking activations a second")
    parser.add_argument("--skip", default="", help="comma-separated scenarios to leave out: throughput,kill,warm")
    parser.add_argument("--couchdb-url", default=os.environ.get("SQUALL_TEST_COUCHDB_URL", ""),
                        help="a CouchDB-API server on 127.0.0.1 (default: an in-memory pouchdb-server started here)")
    parser.add_argument("--workdir", default="", help="where logs go (default: a new folder under the temp dir)")
    args = parser.parse_args(argv)
    counts = sorted({int(n) for n in args.invokers.split(",") if n.strip()})
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if not counts or counts[0] < 1 or counts[-1] > 16:
        parser.error("--invokers takes counts from 1 to 16")
    if not 1 <= args.seconds <= 600 or not 1 <= args.kill_count <= 100_000 or not 1 <= args.clients <= 512:
        parser.error("--seconds 1..600, --kill-count 1..100000, --clients 1..512")
    reason = unavailable()
    if reason:
        print(f"cannot build the lab: {reason}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupted)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="squall-scale-out-"))
    workdir.mkdir(parents=True, exist_ok=True)

    def progress(message: str) -> None:
        print(f"# {message}", file=sys.stderr, flush=True)

    pouch = None
    couchdb_url = args.couchdb_url.rstrip("/")
    if not couchdb_url or not couch_answers(couchdb_url):
        binary = pouchdb_binary(os.environ.get("SQUALL_POUCHDB_BIN"))
        if binary is None:
            print("no CouchDB-API server: pass --couchdb-url or set SQUALL_POUCHDB_BIN", file=sys.stderr)
            return 2
        couchdb_url, pouch = start_pouchdb(binary, workdir)
    progress(f"logs in {workdir}")
    started = time.monotonic()
    try:
        with open_lab(workdir / "lab", couchdb_url) as lab:
            if "throughput" not in skip:
                rows = throughput(lab, counts, clients=args.clients, sleep_s=args.sleep, seconds=args.seconds,
                                  progress=progress)
                lab.stop_invokers()
                print(f"\nthroughput: one hot action sleeping {args.sleep} s, {args.clients} blocking clients, "
                      f"invokers of {SMALL['SQUALL_INVOKER_THREADS']} threads and "
                      f"{SMALL['SQUALL_INVOKER_USER_MEMORY_MB']} MB")
                print(throughput_table(rows), flush=True)
            if "kill" not in skip:
                figures = kill(lab, count=args.kill_count, rate=args.kill_rate, progress=progress)
                lab.stop_invokers()
                print(f"\nkill -9 of one of three invokers: {figures.summary()}")
                for failure in figures.check.failures:
                    print(f"  BROKEN: {failure}")
                if figures.late:
                    print(f"  done more than 10 s after the death: {len(figures.late)}")
                sys.stdout.flush()
            if "warm" not in skip:
                seconds = min(args.seconds, 60.0)
                result = warm(lab, seconds=seconds, progress=progress)
                lab.stop_invokers()
                print(f"\nwarm starts: {result.summary(20, 8.0)}", flush=True)
    finally:
        if pouch is not None:
            stop(pouch)
    progress(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
