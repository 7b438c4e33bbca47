"""LookupCache: fresh for a while, then read again; while the store cannot be reached, the last value read is
served for a bounded time; whatever the store does answer replaces it at once."""

from __future__ import annotations

import pytest

from app.core.errors import NotFound, StoreError, StoreUnavailable
from app.core.lookups import LookupCache

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Source:
    """What the store would answer: a value, NotFound, or nothing at all (down)."""

    def __init__(self) -> None:
        self.value: str | None = "v1"
        self.down = False
        self.reads = 0

    def read(self) -> str:
        self.reads += 1
        if self.down:
            raise StoreUnavailable("connection refused")
        if self.value is None:
            raise NotFound()
        return self.value


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> LookupCache[str, str]:
    return LookupCache(fresh_s=5.0, stale_s=300.0, clock=clock)


def test_a_value_is_read_again_once_it_is_no_longer_fresh(cache: LookupCache[str, str], clock: Clock) -> None:
    source = Source()
    assert cache.get("k", source.read) == "v1"
    clock.now = 4.9
    assert cache.get("k", source.read) == "v1"
    assert source.reads == 1
    source.value = "v2"
    clock.now = 5.1
    assert cache.get("k", source.read) == "v2"


def test_while_the_store_is_down_the_last_value_is_served_and_asked_for_every_fresh_period(
        cache: LookupCache[str, str], clock: Clock) -> None:
    source = Source()
    cache.get("k", source.read)
    source.down = True
    clock.now = 10.0
    assert cache.get("k", source.read) == "v1"
    reads = source.reads
    clock.now = 14.0
    assert cache.get("k", source.read) == "v1"
    assert source.reads == reads  # not on every request while it is down
    clock.now = 15.5
    assert cache.get("k", source.read) == "v1"
    assert source.reads == reads + 1


def test_a_stale_value_is_served_for_a_bounded_time_only(cache: LookupCache[str, str], clock: Clock) -> None:
    source = Source()
    cache.get("k", source.read)
    source.down = True
    clock.now = 299.0
    assert cache.get("k", source.read) == "v1"
    clock.now = 306.0  # read at 0: more than 300 s ago
    with pytest.raises(StoreUnavailable):
        cache.get("k", source.read)


def test_nothing_stale_without_a_value_read_before(cache: LookupCache[str, str]) -> None:
    source = Source()
    source.down = True
    with pytest.raises(StoreUnavailable):
        cache.get("k", source.read)


def test_the_store_s_answer_wins_as_soon_as_it_is_back(cache: LookupCache[str, str], clock: Clock) -> None:
    source = Source()
    cache.get("k", source.read)
    source.down = True
    clock.now = 10.0
    cache.get("k", source.read)
    # Back, and the value is gone (a revoked key): NotFound at once, and never the old value again
    source.down, source.value = False, None
    clock.now = 16.0
    with pytest.raises(NotFound):
        cache.get("k", source.read)
    source.down = True
    clock.now = 30.0
    with pytest.raises(StoreUnavailable):
        cache.get("k", source.read)


def test_another_store_error_is_not_an_outage(cache: LookupCache[str, str], clock: Clock) -> None:
    source = Source()
    cache.get("k", source.read)

    def broken() -> str:
        raise StoreError("view missing")

    clock.now = 10.0
    with pytest.raises(StoreError):
        cache.get("k", broken)


def test_stale_s_zero_serves_nothing_stale(clock: Clock) -> None:
    cache: LookupCache[str, str] = LookupCache(fresh_s=0.0, stale_s=0.0, clock=clock)
    source = Source()
    cache.get("k", source.read)
    source.down = True
    clock.now = 1.0
    with pytest.raises(StoreUnavailable):
        cache.get("k", source.read)
