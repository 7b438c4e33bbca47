"""The admin pages' pure activation logic: cold/warm, timings, filters and the dashboard's series."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.activity import MINUTE_MS, ActivationFilter, Timings, is_cold, percentile, summarize
from app.core.entities import Activation, Status

pytestmark = pytest.mark.unit

T0 = 1_700_000_040_000  # a minute boundary


def record(start: int, duration: int = 10, status: Status = Status.SUCCESS, init: int | None = None,
           name: str = "hello", wait: int = 3) -> Activation:
    annotations: list[dict[str, Any]] = [{"key": "path", "value": f"guest/{name}"}, {"key": "waitTime", "value": wait}]
    if init is not None:
        annotations.append({"key": "initTime", "value": init})
    return Activation(namespace="guest", name=name, version="0.0.1", subject="guest", activation_id="a" * 32,
                      start=start, end=start + duration, status=status, result={}, annotations=annotations)


def test_cold_means_an_init_time_and_run_time_excludes_it() -> None:
    cold = record(T0, duration=50, init=30)
    assert is_cold(cold) and not is_cold(record(T0))
    assert Timings.of(cold) == Timings(wait=3, init=30, run=20)
    assert Timings.of(record(T0, duration=8)) == Timings(wait=3, init=None, run=8)


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert (percentile(values, 50), percentile(values, 90), percentile(values, 99)) == (50, 90, 99)
    assert percentile([7], 99) == 7
    assert percentile([], 50) == 0


def test_filter_by_status_and_start() -> None:
    failed_cold = record(T0, status=Status.APPLICATION_ERROR, init=5)
    ok_warm = record(T0)
    assert ActivationFilter(status=Status.APPLICATION_ERROR).matches(failed_cold)
    assert not ActivationFilter(status=Status.APPLICATION_ERROR).matches(ok_warm)
    assert ActivationFilter(start="cold").matches(failed_cold) and not ActivationFilter(start="cold").matches(ok_warm)
    assert ActivationFilter(start="warm").matches(ok_warm) and not ActivationFilter(start="warm").matches(failed_cold)
    assert not ActivationFilter(name="x").filters_locally and ActivationFilter(start="warm").filters_locally


def test_summarize_buckets_by_minute_with_status_counts_percentiles_and_top_actions() -> None:
    records = [record(T0 + i, duration=10 * (i + 1)) for i in range(10)]  # minute 0: 10..100 ms
    records += [record(T0 + MINUTE_MS + 5, status=Status.DEVELOPER_ERROR, init=20, name="bad")]
    records += [record(T0 + 10 * MINUTE_MS)]  # outside the window
    board = summarize(records, T0, T0 + 2 * MINUTE_MS - 1)
    assert [m.minute_ms for m in board.minutes] == [T0, T0 + MINUTE_MS]
    first, second = board.minutes
    assert first.total == 10 and first.by_status["success"] == 10
    assert (first.p50, first.p90, first.p99) == (50, 90, 100)
    assert second.by_status["action developer error"] == 1 and second.cold == 1 and second.warm == 0
    assert (board.total, board.cold, board.warm) == (11, 1, 10)
    assert [(a.name, a.count, a.errors) for a in board.top_by_count] == [("guest/hello", 10, 0), ("guest/bad", 1, 1)]
    assert [(a.name, a.errors) for a in board.top_by_errors] == [("guest/bad", 1)]
