"""The bench's completed-work arithmetic: records stored over time, counted by ``RecordSampler`` and read
by ``completion`` (the steady-state rate, the backlog when the window closes, the drain after it)."""

from __future__ import annotations

import httpx
import pytest

from bench.workload import RecordSampler, StoredSample, await_records, completion, stored_at, stored_per_second

pytestmark = pytest.mark.unit


def overloaded_window() -> list[StoredSample]:
    """10 s window, 300 accepted/s; nothing stored in the first second (the action's first container), then
    200 stored/s, during the window and after it until all 3,000 are stored (6 s more)."""
    samples = [StoredSample(-0.01, 0, 0)]
    for t in range(1, 11):
        samples.append(StoredSample(float(t), 300 * t, 200 * (t - 1)))
    for t in range(11, 17):
        samples.append(StoredSample(float(t), 3000, min(3000, 200 * (t - 1))))
    return samples


def test_completed_rate_is_the_second_half_of_the_window_and_the_backlog_what_is_left_at_its_end() -> None:
    done = completion(overloaded_window(), window_s=10.0, accepted=3000)
    assert done.completed_per_s == pytest.approx(200.0)  # (1,800 stored at 10 s − 800 at 5 s) ÷ 5 s
    assert done.steady_from_s == 5.0
    assert (done.stored_at_end, done.backlog_at_end) == (1800, 1200)
    assert done.drain_s == pytest.approx(6.0)  # the last record landed by second 16


def test_a_platform_that_keeps_up_completes_what_it_accepts_and_drains_at_once() -> None:
    samples = [StoredSample(-0.01, 0, 0)] + [StoredSample(float(t), 100 * t, 100 * t - 5) for t in range(1, 5)]
    samples.append(StoredSample(4.2, 400, 400))
    done = completion(samples, window_s=4.0, accepted=400)
    assert done.completed_per_s == pytest.approx(100.0)
    assert (done.stored_at_end, done.backlog_at_end) == (395, 5)
    assert done.drain_s == pytest.approx(0.2)


def test_no_samples_gives_no_rate_and_the_whole_load_as_backlog() -> None:
    done = completion([], window_s=2.0, accepted=7)
    assert (done.completed_per_s, done.backlog_at_end, done.drain_s) == (None, 7, None)


def test_stored_counts_are_interpolated_between_samples_and_bucketed_per_second() -> None:
    samples = [StoredSample(0.0, 0, 0), StoredSample(2.0, 50, 40), StoredSample(3.5, 80, 70)]
    assert stored_at(samples, 1.0) == 20.0 and stored_at(samples, -1.0) == 0.0 and stored_at(samples, 9.0) == 70.0
    assert stored_per_second(samples) == [20.0, 20.0, 20.0]  # seconds 0-1, 1-2, 2-3
    assert stored_per_second(overloaded_window())[:3] == [0.0, 200.0, 200.0]
    assert sum(stored_per_second(overloaded_window())) == pytest.approx(3000.0)


class FakeCounter:
    """A ``RecordFinder`` whose count the test sets; ``fail`` makes the next count raise as a busy store would."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.fail = False

    def count(self) -> int:
        if self.fail:
            self.fail = False
            raise httpx.ReadTimeout("busy")
        return self.total

    def stored(self, activation_ids: list[str]) -> set[str]:
        return set(activation_ids)

    def counter(self) -> FakeCounter:
        return self

    def close(self) -> None:
        return None


def test_the_sampler_counts_growth_since_its_start_capped_at_what_was_accepted() -> None:
    # Given a store that already holds 100 records (earlier runs) and a sampler that never polls on its own
    counter = FakeCounter(100)
    sampler = RecordSampler(counter, poll_s=3600)
    sampler.start()
    try:
        # If 5 are accepted and 3 stored, then 3 is what the sampler says
        sampler.accept(5)
        counter.total = 103
        sampler.sample()
        assert sampler.stored == 3
        # If the count runs ahead of the 202s (another writer, or a record before its 202), the 202s cap it
        counter.total = 110
        sampler.sample()
        assert sampler.stored == 5
        # If a count fails, that moment has no sample and the failure is kept
        counter.fail = True
        sampler.sample()
        assert sampler.failures == {"ReadTimeout": 1}
    finally:
        sampler.stop()
    samples = sampler.samples(since=0.0)
    assert [(s.accepted, s.stored) for s in samples] == [(0, 0), (5, 3), (5, 5)]
    assert samples == sorted(samples, key=lambda s: s.t)


def test_await_records_waits_on_the_count_then_looks_every_id_up_once() -> None:
    # Given a count that says every record is stored, and a finder that finds them all
    lookups: list[list[str]] = []

    class Finder(FakeCounter):
        def stored(self, activation_ids: list[str]) -> set[str]:
            lookups.append(activation_ids)
            return set(activation_ids) - {"late"}

    ticks: list[int] = []
    missing, _ = await_records(Finder(0), ["a", "b"], stall_s=0.0, poll_s=0.01, stored_count=lambda: 2,
                               tick=ticks.append)
    assert missing == set() and lookups == [["a", "b"]] and sum(ticks) == 2
    # If one record never lands, it is reported missing once no record arrived for stall_s
    missing, _ = await_records(Finder(0), ["a", "late"], stall_s=0.0, poll_s=0.01, stored_count=lambda: 1)
    assert missing == {"late"}
