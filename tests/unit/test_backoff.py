"""Backoff: threads waiting for a service that is away wake as soon as one of them reaches it again, not at the
end of their own pauses; the outage is logged once when it starts and once when it ends."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from workers.backoff import PAUSES_S, Backoff

pytestmark = pytest.mark.unit

LOGGER = "tests.backoff"
LONG_S = 60.0
"""A pause no test waits out: a thread still asleep after a few seconds was not woken."""


def test_the_pauses_are_capped_at_a_second_and_last_about_thirty_seconds() -> None:
    pauses = list(Backoff("x", logging.getLogger(LOGGER)).pauses())
    assert pauses[-1] is None and max(p for p in pauses if p is not None) <= 1.0
    assert 25.0 <= sum(PAUSES_S) <= 35.0


def test_a_thread_that_gets_through_wakes_the_waiting_ones() -> None:
    backoff = Backoff("the journal", logging.getLogger(LOGGER), pauses_s=(LONG_S,))
    woke: list[float] = []

    def waiter() -> None:
        backoff.failed("connection refused", LONG_S)
        woke.append(time.monotonic())

    threads = [threading.Thread(target=waiter) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)  # let them reach their pause
    assert woke == []
    backoff.succeeded()
    for thread in threads:
        thread.join(timeout=5.0)
    assert len(woke) == 3


def test_a_failure_after_the_return_waits_again() -> None:
    backoff = Backoff("the journal", logging.getLogger(LOGGER))
    backoff.succeeded()
    start = time.monotonic()
    backoff.failed("connection refused", 0.3)
    assert time.monotonic() - start >= 0.25  # the earlier success does not cut this pause short


def test_one_line_when_it_goes_and_one_when_it_is_back(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    backoff = Backoff("Redis (start journal)", logging.getLogger(LOGGER))
    for _ in range(5):
        backoff.failed("connection refused", 0.0)
    backoff.succeeded()
    backoff.succeeded()
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(lines) == 2
    assert "unreachable: connection refused" in lines[0] and "reachable again" in lines[1]
    assert "5 requests failed" in lines[1]
