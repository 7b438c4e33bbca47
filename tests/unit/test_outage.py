"""Outage: a service that is down is logged once when it goes, counted while it stays away, and once when it is
back, however many requests fail meanwhile; while it is away, one caller a second tries it."""

from __future__ import annotations

import logging

import pytest

from app.core.outage import Outage

pytestmark = pytest.mark.unit

LOGGER = "tests.outage"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outage(clock: Clock, caplog: pytest.LogCaptureFixture) -> Outage:
    caplog.set_level(logging.INFO, logger=LOGGER)
    return Outage("CouchDB at http://db", logging.getLogger(LOGGER), report_s=10.0, clock=clock)


def test_a_healthy_service_logs_nothing(outage: Outage, caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(1000):
        outage.succeeded()
    assert lines(caplog) == []
    assert not outage.down


def test_one_warning_with_the_cause_then_counts_then_one_line_when_back(
        outage: Outage, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    # Given a service that goes away and fails 2,000 requests over 25 s
    for n in range(2000):
        clock.now = 100.0 + n * 25 / 2000
        outage.failed("ConnectError('[Errno 111] Connection refused')")
    assert outage.down
    # Then: the first failure with its cause, one count per 10 s, no line per request
    first, *counts = lines(caplog)
    assert first.startswith("CouchDB at http://db unreachable: ConnectError('[Errno 111] Connection refused')")
    assert len(counts) == 2
    assert all(line.startswith("CouchDB at http://db still unreachable: ") for line in counts)
    assert counts[0].startswith("CouchDB at http://db still unreachable: 800 requests failed in the last 10 s")
    # If it answers again: one line, with how long it was away and how many requests failed
    clock.now = 130.0
    outage.succeeded()
    outage.succeeded()
    assert lines(caplog)[-1] == "CouchDB at http://db reachable again after 30.0 s; 2000 requests failed meanwhile"
    assert len(lines(caplog)) == 4
    assert not outage.down
    assert all(r.exc_info is None for r in caplog.records), "no tracebacks"


def test_the_next_outage_is_logged_again(outage: Outage, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    outage.failed("first")
    outage.succeeded()
    clock.now += 60
    outage.failed("second")
    outage.failed("second")
    found = lines(caplog)
    assert len(found) == 3
    assert found[2].startswith("CouchDB at http://db unreachable: second")


def test_while_away_one_caller_per_probe_period_tries(outage: Outage, clock: Clock) -> None:
    assert not outage.skip()  # up: everyone tries
    outage.failed("refused")
    assert outage.skip()  # just failed: the others fail at once
    clock.now += 0.5
    assert outage.skip()
    clock.now += 0.6
    assert not outage.skip()  # a second later: this caller probes ...
    assert outage.skip()  # ... and the others still wait for its answer
    outage.succeeded()
    assert not outage.skip()
