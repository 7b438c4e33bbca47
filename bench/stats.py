"""Latency summaries: percentiles by the nearest-rank method over milliseconds."""

from __future__ import annotations

import math
import statistics
from typing import Any


def percentile(sorted_ms: list[float], p: float) -> float:
    """Nearest rank: the smallest sample with at least ``p`` % of the samples at or below it."""
    if not sorted_ms:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_ms)))
    return sorted_ms[min(rank, len(sorted_ms)) - 1]


def summarize(samples_ms: list[float]) -> dict[str, Any]:
    """``{"n", "p50", "p90", "p99", "max", "mean"}`` in ms, rounded to 0.01 ms (None when empty)."""
    if not samples_ms:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(samples_ms)
    return {
        "n": len(ordered),
        "p50": round(percentile(ordered, 50), 2),
        "p90": round(percentile(ordered, 90), 2),
        "p99": round(percentile(ordered, 99), 2),
        "max": round(ordered[-1], 2),
        "mean": round(statistics.fmean(ordered), 2),
    }
