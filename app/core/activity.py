"""What the admin pages show about activations: filters the store cannot index, cold/warm, timings, and the
dashboard's per-minute series; and what an activation's log line says. Pure functions over ``Activation``
records; no I/O."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.core.entities import Activation, Status, annotation

MINUTE_MS = 60_000


def is_cold(activation: Activation) -> bool:
    """OpenWhisk marks a cold start with an ``initTime`` annotation (the container was initialised for it)."""
    return annotation(activation.annotations, "initTime") is not None


@dataclass(frozen=True)
class Timings:
    """Milliseconds: wait (queued until a container was ready), init (cold starts only) and run."""

    wait: int | None
    init: int | None
    run: int

    @classmethod
    def of(cls, activation: Activation) -> Timings:
        wait = annotation(activation.annotations, "waitTime")
        init = annotation(activation.annotations, "initTime")
        # OpenWhisk's duration includes /init; the run alone is what is left.
        run = activation.duration - (init if isinstance(init, int) else 0)
        return cls(wait if isinstance(wait, int) else None, init if isinstance(init, int) else None, max(run, 0))


@dataclass(frozen=True)
class ActivationFilter:
    """The filters of the activations table; ``name`` and the time range go to the store, the rest here."""

    name: str | None = None
    status: Status | None = None
    start: str | None = None  # "cold" or "warm"
    since: int | None = None
    upto: int | None = None

    def matches(self, activation: Activation) -> bool:
        if self.status is not None and activation.status != self.status:
            return False
        if self.start == "cold" and not is_cold(activation):
            return False
        return not (self.start == "warm" and is_cold(activation))

    @property
    def filters_locally(self) -> bool:
        return self.status is not None or self.start is not None


@dataclass(frozen=True)
class ActivationPage:
    items: list[Activation]
    skip: int
    limit: int
    more: bool  # another page follows
    scanned_all: bool = True  # False when a local filter stopped at the scan cap


def percentile(sorted_values: Sequence[int], p: float) -> int:
    """Nearest-rank percentile of an ascending list (``p`` in 0..100); 0 for an empty list."""
    if not sorted_values:
        return 0
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True)
class MinuteBucket:
    minute_ms: int
    by_status: dict[str, int]
    p50: int
    p90: int
    p99: int
    cold: int
    warm: int

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class ActionCount:
    name: str
    count: int
    errors: int


@dataclass(frozen=True)
class Dashboard:
    since_ms: int
    until_ms: int
    minutes: list[MinuteBucket]
    total: int
    cold: int
    warm: int
    by_status: dict[str, int]
    top_by_count: list[ActionCount]
    top_by_errors: list[ActionCount]
    truncated: bool = False  # the window held more records than were read
    statuses: tuple[str, ...] = field(default=tuple(s.label for s in Status))


def action_name(activation: Activation) -> str:
    """``namespace/[package/]name`` of the action, from the ``path`` annotation when present."""
    path = annotation(activation.annotations, "path")
    return path if isinstance(path, str) else f"{activation.namespace}/{activation.name}"


def summarize(records: Iterable[Activation], since_ms: int, until_ms: int, top: int = 10,
              truncated: bool = False) -> Dashboard:
    """Per-minute series (count by status, latency percentiles, cold/warm) and top actions over a window."""
    first = since_ms - since_ms % MINUTE_MS
    buckets: dict[int, list[Activation]] = {m: [] for m in range(first, until_ms + 1, MINUTE_MS)}
    counts: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    cold = warm = 0
    for record in records:
        if not since_ms <= record.start <= until_ms:
            continue
        buckets.setdefault(record.start - record.start % MINUTE_MS, []).append(record)
        name = action_name(record)
        counts[name] += 1
        statuses[record.status.label] += 1
        if not record.success:
            errors[name] += 1
        if is_cold(record):
            cold += 1
        else:
            warm += 1
    minutes = [_bucket(minute, items) for minute, items in sorted(buckets.items())]
    by_count = [ActionCount(n, c, errors[n]) for n, c in counts.most_common(top)]
    by_errors = [ActionCount(n, counts[n], e) for n, e in errors.most_common(top)]
    return Dashboard(since_ms, until_ms, minutes, sum(counts.values()), cold, warm,
                     {s.label: statuses[s.label] for s in Status}, by_count, by_errors, truncated)


def _bucket(minute: int, items: list[Activation]) -> MinuteBucket:
    durations = sorted(a.duration for a in items)
    by_status = {s.label: 0 for s in Status}
    cold = 0
    for a in items:
        by_status[a.status.label] += 1
        cold += is_cold(a)
    return MinuteBucket(minute, by_status, percentile(durations, 50), percentile(durations, 90),
                        percentile(durations, 99), cold, len(items) - cold)


def log_line(activation: Activation, transaction_id: str, start: str | None = None) -> tuple[str, dict[str, Any]]:
    """The message and the structured fields of ``activation``'s one log line (the invoker's, or a composition's):
    which activation, whose, which action, how it ended, how long it took and waited, how it got its container
    (``start``: cold, prewarm or warm), the transaction id. Never its parameters, result or logs: those are the
    tenant's, and stay in the record. Fields that are not known are left out."""
    annotations = activation.annotations
    action = annotation(annotations, "path") or activation.name
    status = activation.status.label
    message = f"activation {activation.activation_id} {action} {status} {activation.duration} ms"
    fields = {
        "tid": transaction_id or None, "activation_id": activation.activation_id, "namespace": activation.namespace,
        "action": action, "kind": annotation(annotations, "kind"), "status": status,
        "duration_ms": activation.duration, "wait_ms": annotation(annotations, "waitTime"),
        "init_ms": annotation(annotations, "initTime"), "start": start, "cause": activation.cause,
    }
    return (f"{message} ({start})" if start else message), {k: v for k, v in fields.items() if v is not None}
