"""Fixed one-minute throttle windows (OpenWhisk ``RateThrottler``)."""

from __future__ import annotations

import pytest

from app.core.errors import Throttled
from app.core.limits import check_rate, window_key
from app.state.counters import MemoryCounters

pytestmark = pytest.mark.unit


def test_windows_are_whole_minutes_per_namespace_and_kind() -> None:
    assert window_key("fires", "guest", 60_000) == window_key("fires", "guest", 119_999)
    assert window_key("fires", "guest", 119_999) != window_key("fires", "guest", 120_000)
    assert window_key("fires", "guest", 0) != window_key("fires", "other", 0)
    assert window_key("fires", "guest", 0) != window_key("invokes", "guest", 0)


def test_the_count_includes_the_current_request() -> None:
    check_rate(60, 60)
    with pytest.raises(Throttled, match=r"^Too many requests in the last minute \(count: 61, allowed: 60\)\.$"):
        check_rate(61, 60)


def test_memory_counters_count_and_expire() -> None:
    now = [0.0]
    counters = MemoryCounters(clock=lambda: now[0])
    assert [counters.increment("k", 65) for _ in range(3)] == [1, 2, 3]
    assert counters.increment("other", 65) == 1
    now[0] = 65.0
    assert counters.increment("k", 65) == 1
