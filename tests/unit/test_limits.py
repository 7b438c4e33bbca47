"""The throttles' arithmetic: how long a refused caller is told to wait (``Retry-After``)."""

from __future__ import annotations

import pytest

from app.core.errors import Throttled
from app.core.limits import CONCURRENT_RETRY_S, WINDOW_MS, check_concurrent, check_rate, window_left_s

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("now_ms", "left_s"), [
    (0, 60),  # the minute's first millisecond: all of it is left
    (1, 60),  # rounded up: a caller told 59 would come back a fraction of a second too early
    (59_000, 1),
    (59_001, 1),
    (59_999, 1),
    (WINDOW_MS * 1000 + 30_500, 30),
])
def test_window_left_is_the_rest_of_the_minute_rounded_up(now_ms: int, left_s: int) -> None:
    assert window_left_s(now_ms) == left_s


def test_a_rate_refusal_says_when_its_window_ends() -> None:
    with pytest.raises(Throttled) as refused:
        check_rate(3, 2, "invocations", "ns", now_ms=WINDOW_MS * 7 + 45_200)
    assert (refused.value.retry_after_s, refused.value.reason, refused.value.namespace) == (15, "invocations", "ns")
    with pytest.raises(Throttled) as unknown:
        check_rate(3, 2)
    assert unknown.value.retry_after_s is None
    check_rate(2, 2, now_ms=0)  # at the limit: passes


def test_a_concurrency_refusal_asks_for_a_short_wait() -> None:
    with pytest.raises(Throttled) as refused:
        check_concurrent(2, 2, "ns")
    assert refused.value.retry_after_s == CONCURRENT_RETRY_S == 1
    check_concurrent(1, 2, "ns")
