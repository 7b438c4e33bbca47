"""Several invokers sharing the work and covering for each other, each on a "host" of its own (a network
namespace of ``bench.lab``), with the ``process`` container factory. Scenarios a-c are
``bench.scale_out``'s (which prints the same figures as a benchmark); d and e are here only.

Sizes, chosen for a 2-core machine and a module run of about three minutes (the figures are printed; ``-s``
shows them):

* a. kill: 1,000 non-blocking activations paced at 30 a second over three invokers (4 threads, 4 GB, six
  actions) plus three blocking callers; a burst of 36 just before one invoker's host dies, 40 % of the way in.
* b. throughput: one hot action sleeping 0.5 s, 64 blocking clients, invokers of 4 threads and 1 GB (four 256 MB
  containers): 3 s warm-up and 8 s measured per N = 1, 2, 3.
* c. warm starts: 20 actions on three invokers of 8 GB, 6 blocking clients at random, 8 s warm-up, 10 s measured.
* d. join and leave: 8 blocking clients over two invokers; a third joins, then one of the first two gets SIGTERM
  right after a burst of 60 non-blocking activations.
* e. two controllers: a burst of 100 non-blocking 512 MB activations through both onto three 1 GB invokers.

Timed thresholds are the issue's (hand-off within 10 s, blocking callers within their action's time plus 10 s,
joining within 5 s); throughput is asserted only to spread and to grow with N, its ratio is printed.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from app.core.placement import rendezvous
from bench.lab import (
    SUCCESS,
    WHISK_ERROR,
    Call,
    Lab,
    Load,
    call,
    error_of,
    exactly_once,
    max_overlap,
    open_lab,
    prime,
    unavailable,
    wait_recorded,
)
from bench.scale_out import ROOMY, SMALL, kill, throughput, warm
from workers.invoker import REDELIVERED

pytestmark = pytest.mark.integration

KILL_COUNT = 1000
KILL_RATE = 30.0
KILL_BLOCKING_SLEEP_S = 0.5
HANDOFF_S = 10.0
BLOCKING_GRACE_S = 10.0

HOT_CLIENTS = 64
HOT_SLEEP_S = 0.5
HOT_WARMUP_S = 3.0
HOT_MEASURE_S = 8.0

WARM_ACTIONS = 20
WARM_WARMUP_S = 8.0
WARM_MEASURE_S = 10.0
WARM_SHARE = 0.9

JOIN_S = 5.0
PAIR_MEMORY_MB = 512


@pytest.fixture(scope="module")
def lab(couchdb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    reason = unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with open_lab(tmp_path_factory.mktemp("lab"), couchdb_url, invoker_env=SMALL) as made:
        yield made


@pytest.fixture
def cluster(lab: Lab) -> Iterator[Lab]:
    """The lab, with every invoker a test started stopped after it (their hosts stay until the module ends)."""
    try:
        yield lab
    finally:
        lab.stop_invokers()


def actions_homed(names: list[str], home: str, count: int, total: int, prefix: str) -> list[str]:
    """``total`` action names of which ``count`` have ``home`` first in their rendezvous order (and the rest not)."""
    chosen: list[str] = []
    others: list[str] = []
    for k in range(10_000):
        name = f"{prefix}{k}"
        if rendezvous(f"guest|guest/{name}", names)[0] == home:
            if len(chosen) < count:
                chosen.append(name)
        elif len(others) < total - count:
            others.append(name)
        if len(chosen) == count and len(others) == total - count:
            return chosen + others
    raise AssertionError("no action names with that home")


# --- a. an invoker's host dies under load ------------------------------------------------------------------------


def test_kill_9_of_one_of_three_invokers_loses_nothing_and_runs_nothing_twice(cluster: Lab) -> None:
    figures = kill(cluster, count=KILL_COUNT, rate=KILL_RATE, blocking_sleep_s=KILL_BLOCKING_SLEEP_S,
                   handoff_s=HANDOFF_S)
    print(f"\n[kill -9] {figures.summary()}")

    assert not figures.refused, f"non-blocking invokes not accepted: {figures.refused}"
    assert not figures.check.failures, figures.check.failures
    assert set(figures.check.statuses) <= {SUCCESS, WHISK_ERROR}, figures.check.statuses
    assert figures.redelivered == figures.whisk_errors, \
        Counter(error_of(figures.check.records[i]) for i in figures.whisk_errors)
    assert len(figures.whisk_errors) <= int(ROOMY["SQUALL_INVOKER_THREADS"]), "more in flight than it has threads"
    assert figures.departed, "the killed invoker is still in the registry"
    assert figures.emptied_s is not None, "the dead invoker's queue was never emptied"
    assert not figures.late, f"outstanding at the death but done more than {HANDOFF_S} s after it: {figures.late}"
    slow = [round(c.waited, 1) for c in figures.blocking if c.waited > KILL_BLOCKING_SLEEP_S + BLOCKING_GRACE_S]
    assert not slow, f"blocking callers waited past {KILL_BLOCKING_SLEEP_S} + {BLOCKING_GRACE_S} s: {slow}"
    failed = [c.body for c in figures.blocking if c.status != 200]
    assert all(c.status == 500 and error_of(c.body) == REDELIVERED for c in figures.blocking if c.status != 200), \
        failed  # in flight at the death: the designed whisk error, answered as OpenWhisk does (500)


# --- b. throughput grows with the invokers -------------------------------------------------------------------


def test_one_hot_action_spreads_over_every_invoker_and_throughput_grows(cluster: Lab) -> None:
    rows = throughput(cluster, (1, 2, 3), clients=HOT_CLIENTS, sleep_s=HOT_SLEEP_S, warmup_s=HOT_WARMUP_S,
                      seconds=HOT_MEASURE_S, env=SMALL)
    one = rows[0].per_s
    for row in rows:
        print(f"\n[throughput] N={row.invokers}: {row.per_s:.1f}/s (ideal {row.ideal_per_s:.0f}/s, ratio to "
              f"0.8×N×one {row.per_s / (0.8 * row.invokers * one):.2f}), p50 {row.p50_s:.2f} s, p95 "
              f"{row.p95_s:.2f} s, runs by invoker {row.by_invoker}", end="")
    print()
    for row in rows:
        assert not row.errors, f"N={row.invokers}: {row.errors} {row.error_bodies}"
        assert set(row.by_invoker) == set(row.live), f"N={row.invokers}: work went to {sorted(row.by_invoker)}, " \
                                                     f"not to every one of {row.live}"
        fair = sum(row.by_invoker.values()) / row.invokers
        assert all(count >= fair / 2 for count in row.by_invoker.values()), f"unfair spread {row.by_invoker}"
    assert rows[0].per_s < rows[1].per_s < rows[2].per_s, [row.per_s for row in rows]


# --- c. warm starts --------------------------------------------------------------------------------------------


def test_twenty_actions_on_three_invokers_stay_warm(cluster: Lab) -> None:
    result = warm(cluster, actions=WARM_ACTIONS, warmup_s=WARM_WARMUP_S, seconds=WARM_MEASURE_S)
    print(f"\n[warm] {result.summary(WARM_ACTIONS, WARM_WARMUP_S)}")
    assert not result.errors, result.errors
    assert result.measured > 0
    assert result.share >= WARM_SHARE


# --- d. joining and leaving under load -------------------------------------------------------------------------


def test_an_invoker_joining_takes_work_and_one_leaving_loses_nothing(cluster: Lab) -> None:
    lab = cluster
    assert lab.recorder is not None
    first = [lab.add_invoker(), lab.add_invoker()]
    newcomer = lab.next_name()
    actions = actions_homed([i.name for i in first] + [newcomer], newcomer, 2, 6, "join")
    with lab.client() as client:
        for action in actions:
            lab.put_action(client, action)
    prime(lab, actions[0])
    load = Load(lab, actions, 0.2, 8, seconds=30.0)
    time.sleep(2.0)
    joined = lab.add_invoker()
    assert joined.name == newcomer and joined.ready is not None
    deadline = time.time() + 3 * JOIN_S
    first_run: float | None = None
    while first_run is None and time.time() < deadline:
        first_run = min((r.received for r in lab.recorder.runs() if r.source == joined.address), default=None)
        time.sleep(0.05)
    join_s = (first_run - joined.ready) if first_run is not None else float("inf")

    with lab.client() as client:  # a backlog, so the one that leaves has queued work to hand over
        burst = [call(client, actions[k % len(actions)], 0.2, blocking=False) for k in range(60)]
    leaving = first[0]
    queued = lab.queued(leaving.name)
    lab.terminate(leaving.name, wait=False)
    time.sleep(4.0)
    calls = load.stop() + burst
    leaving.process.wait(timeout=60)

    refused = Counter(c.status for c in calls if c.status not in (200, 202))
    check = exactly_once(lab, calls)
    print(f"\n[join] {joined.name} ran its first activation {join_s:.2f} s after it was ready "
          f"({joined.ready - joined.started:.1f} s after its start); [leave] {leaving.name} stopped with SIGTERM "
          f"(exit {leaving.process.returncode}) with {queued} queued, {lab.handoffs().get(leaving.name, 0)} handed "
          f"off: {len(calls)} activations, records {dict(check.statuses)}; runs by invoker "
          f"{lab.runs_by_invoker(check.ids)}")
    assert join_s <= JOIN_S
    assert not refused, refused
    assert not check.failures, check.failures
    assert set(check.statuses) == {SUCCESS}, check.statuses


# --- e. two controllers never overfill an invoker -------------------------------------------------------------


def test_two_controllers_never_exceed_an_invokers_capacity(cluster: Lab) -> None:
    lab = cluster
    assert lab.recorder is not None
    if len(lab.controllers) < 2:
        lab.add_controller()
    invokers = [lab.add_invoker() for _ in range(3)]
    actions = [f"pair{k}" for k in range(3)]
    with lab.client() as client:
        for action in actions:
            lab.put_action(client, action, memory_mb=PAIR_MEMORY_MB)
    prime(lab, actions[0])
    samples: list[tuple[str, dict[str, Any], tuple[int, int]]] = []
    sampling = threading.Event()

    def sample() -> None:
        deadline = time.time() + 120
        while not sampling.is_set() and time.time() < deadline:
            reports = lab.reports()
            for invoker in invokers:
                report = reports.get(invoker.name)
                if report is not None:
                    samples.append((invoker.name, report, lab.reserved(invoker.name)))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    burst: list[Call] = []
    lock = threading.Lock()

    def submit(controller: int, k: int) -> None:
        with lab.client(controller) as client:
            for i in range(25):
                result = call(client, actions[(k + i) % len(actions)], 0.3, blocking=False)
                with lock:
                    burst.append(result)

    threads = [threading.Thread(target=submit, args=(c, k), daemon=True) for c in (0, 1) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    ids = {c.activation_id for c in burst if c.activation_id}
    wait_recorded(lab, ids)
    sampling.set()
    sampler.join(timeout=10)

    refused = Counter(c.status for c in burst if c.status != 202)
    check = exactly_once(lab, burst)
    runs = [r for r in lab.recorder.runs() if r.activation_id in ids]
    concurrency = {i.name: max_overlap([(r.start, r.end) for r in runs if r.source == i.address]) for i in invokers}
    peak_in_flight = {i.name: max((s[1].get("in_flight", 0) for s in samples if s[0] == i.name), default=0)
                      for i in invokers}
    peak_reserved = {i.name: max((s[2] for s in samples if s[0] == i.name), default=(0, 0)) for i in invokers}
    print(f"\n[two controllers] {len(burst)} activations ({dict(check.statuses)}), {len(samples)} registry samples; "
          f"most running at once per invoker {concurrency}; peak in_flight {peak_in_flight}; peak reserved "
          f"(MB, activations) {peak_reserved}")
    assert not refused, refused
    assert not check.failures, check.failures
    assert set(check.statuses) == {SUCCESS}, check.statuses
    assert {name for name, _, _ in samples} == {i.name for i in invokers}
    for name, report, (reserved_mb, reserved_n) in samples:
        slots, capacity = int(report["threads"]), int(report["capacity_mb"])
        pool = report["pool"]
        assert report["in_flight"] <= slots, (name, report)
        assert pool["busy"] * PAIR_MEMORY_MB <= capacity and pool["used_mb"] <= capacity, (name, report)
        assert reserved_n <= slots and reserved_mb <= capacity, (name, reserved_mb, reserved_n)
    capacity_of = {name: int(report["capacity_mb"]) for name, report, _ in samples}
    for name, most in concurrency.items():
        assert most <= capacity_of[name] // PAIR_MEMORY_MB, (name, most)
