"""Failed API authentications, counted per client address and per uuid in the shared counter; and ended admin
sessions, remembered here and shared with every controller, for as long as a cookie of theirs could be shown."""

from __future__ import annotations

import pytest

from app.core.errors import StoreError
from app.core.services.logins import AuthFailures, EndedSessions
from app.state.counters import MemoryCounters

pytestmark = pytest.mark.unit

MINUTE = 60_000


class Millis:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SharedMarks:
    """Our own ``Revisions`` port in a dict: what every controller reads and writes (Redis in a deployment)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.down = False

    def current(self, doc_id: str) -> str | None:
        if self.down:
            raise StoreError("Redis is unreachable")
        return self.values.get(doc_id)

    def record(self, doc_id: str, rev: str) -> None:
        if self.down:
            raise StoreError("Redis is unreachable")
        self.values[doc_id] = rev

    def offer(self, doc_id: str, rev: str) -> None:
        self.values.setdefault(doc_id, rev)

    def close(self) -> None:
        return None


def test_failures_past_the_limit_say_when_the_minute_ends() -> None:
    clock = Millis(100 * MINUTE + 45_500)  # 14.5 s before the minute ends
    failures = AuthFailures(MemoryCounters(), 3, clock_ms=clock)
    assert [failures.failed("10.0.0.1", f"uuid-{n}") for n in range(3)] == [None, None, None]
    assert failures.failed("10.0.0.1", "uuid-3") == 15
    clock.now = 101 * MINUTE  # a new minute, a new count
    assert failures.failed("10.0.0.1", "uuid-4") is None


def test_failures_with_one_uuid_count_from_every_address() -> None:
    failures = AuthFailures(MemoryCounters(), 3, clock_ms=Millis(5 * MINUTE))
    assert [failures.failed(f"10.0.0.{n}", "victim") for n in range(3)] == [None, None, None]
    assert failures.failed("10.0.0.9", "victim") == 60
    assert failures.failed("10.0.0.9", "someone-else") is None  # that address failed once only


def test_controllers_sharing_a_counter_count_together() -> None:
    counter, clock = MemoryCounters(), Millis(7 * MINUTE)
    one, two = AuthFailures(counter, 2, clock_ms=clock), AuthFailures(counter, 2, clock_ms=clock)
    assert one.failed("10.0.0.1", "a") is None
    assert two.failed("10.0.0.1", "b") is None
    assert one.failed("10.0.0.1", "c") is not None


def test_an_ended_session_is_refused_until_every_cookie_of_it_expired() -> None:
    clock = Clock()
    ended = EndedSessions(None, remember_s=3600, clock=clock)
    assert not ended.has_ended("s1")
    ended.end("s1")
    assert ended.has_ended("s1") and not ended.has_ended("s2")
    clock.now = 3601
    assert not ended.has_ended("s1")


def test_an_ended_session_is_refused_by_every_controller() -> None:
    shared = SharedMarks()
    here, there = EndedSessions(shared, 3600), EndedSessions(shared, 3600)
    here.end("s1")
    assert there.has_ended("s1")
    assert not there.has_ended("s2")


def test_while_the_shared_store_is_away_a_session_is_taken_as_live_but_this_controller_remembers() -> None:
    shared = SharedMarks()
    here, there = EndedSessions(shared, 3600), EndedSessions(shared, 3600)
    shared.down = True
    here.end("s1")  # not shared, but no error for the person logging out
    assert here.has_ended("s1")
    assert not there.has_ended("s1")  # fails open: an outage must not lock every operator out
    shared.down = False
    assert not there.has_ended("s1")
