"""The invocations-per-minute count and the ``concurrentInvocations`` slot when they travel with the activation's
placement (``app.core.ports.Ahead``), as they do over Redis: the replies decide the 429s before anything is
published, the per-minute throttle still answers first (also for an action that is not there), a failed round trip
lets the invoke through uncounted in flight, ``NOT_SENT`` makes the controller make each call itself, and a slot
taken for an invoke that is then refused or not published is given back.

Here the dispatcher plays the round trip: it makes the commands it is handed against the in-process counts and
passes the replies on, as ``tasks.dispatch.CeleryDispatcher`` does with the reservation's Redis pipeline."""

from __future__ import annotations

import pytest

from app.core.entities import ActivationMessage
from app.core.errors import StoreError
from app.core.ports import NOT_SENT, Ahead, SharedWrite
from app.state.counters import MemoryCounters
from app.state.inflight import MemoryInFlight
from app.store import Store
from tests.api.conftest import NS, Api, EchoDispatcher, MakeApi, Reply, error, ok

pytestmark = pytest.mark.api


class TravellingInFlight(MemoryInFlight):
    """Offers its acquire as a command, as ``RedisInFlight`` does."""

    def acquire_later(self, namespace: str, activation_id: str, ttl_ms: int, allowed: int | None) -> SharedWrite:
        return ("ACQUIRE", namespace, activation_id, ttl_ms, -1 if allowed is None else allowed)


class TravellingCounters(MemoryCounters):
    """Offers its increment as a command, as ``RedisCounters`` does."""

    def increment_later(self, key: str, ttl_s: int) -> SharedWrite:
        return ("COUNT", key, ttl_s)


class CarryingDispatcher(EchoDispatcher):
    """Makes the commands it is handed (or fails them, or does not send them) and passes the replies to ``then``."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, TravellingInFlight(), TravellingCounters())
        self.carried: list[tuple[SharedWrite, ...]] = []
        self.replying: object = "make them"
        self.given_back = 0

    def _make(self, command: SharedWrite) -> object:
        if command[0] == "COUNT":
            _, key, ttl_s = command
            assert isinstance(key, str) and isinstance(ttl_s, int)
            return self.counter.increment(key, ttl_s)
        _, namespace, activation_id, ttl_ms, allowed = command
        assert isinstance(namespace, str) and isinstance(activation_id, str)
        assert isinstance(ttl_ms, int) and isinstance(allowed, int)
        return self.inflight.acquire(namespace, activation_id, ttl_ms, None if allowed < 0 else allowed)

    def publish(self, message: ActivationMessage, ahead: Ahead | None = None) -> None:
        if ahead is not None:
            self.carried.append(ahead.commands)
            replies = self.replying
            if replies == "make them":
                replies = [self._make(command) for command in ahead.commands]
            try:
                ahead.then(replies)
            except BaseException:
                self.given_back += 1  # the reservation made in the same round trip goes back
                raise
        super().publish(message)


def _limits(make_api: MakeApi, concurrent: int, per_minute: int = 1000) -> tuple[Api, CarryingDispatcher]:
    api = make_api(dispatcher_class=CarryingDispatcher,
                   limits={"concurrent_invocations": concurrent, "invocations_per_minute": per_minute})
    dispatcher = api.dispatcher
    assert isinstance(dispatcher, CarryingDispatcher)
    api.action("slow")
    dispatcher.replies[f"{api.ns}/slow"] = Reply(finishes=False)
    return api, dispatcher


def test_the_concurrent_count_that_comes_back_decides_the_429_before_anything_is_published(
        make_api: MakeApi) -> None:
    api, dispatcher = _limits(make_api, 1)
    ok(api.post(f"{NS}/actions/slow", {}), 202)
    published = len(dispatcher.published)
    assert error(api.post(f"{NS}/actions/slow", {}), 429) == \
        "Too many concurrent requests in flight (count: 1, allowed: 1)."
    assert len(dispatcher.published) == published  # refused before the publish
    assert dispatcher.given_back == 1
    assert [[command[0] for command in commands] for commands in dispatcher.carried] == [["COUNT", "ACQUIRE"]] * 2
    assert dispatcher.carried[0][1][4] == 1  # the namespace's limit travels with the command
    assert dispatcher.inflight.count(api.ns) == 1


def test_the_per_minute_count_that_comes_back_answers_first_and_gives_the_slot_back(make_api: MakeApi) -> None:
    api, dispatcher = _limits(make_api, 5, per_minute=2)
    for _ in range(2):
        ok(api.post(f"{NS}/actions/slow", {}), 202)
    assert error(api.post(f"{NS}/actions/slow", {}), 429) == \
        "Too many requests in the last minute (count: 3, allowed: 2)."
    assert dispatcher.inflight.count(api.ns) == 2  # the refused one's slot, taken in the round trip, went back
    assert dispatcher.given_back == 1 and len(dispatcher.published) == 2


def test_the_per_minute_throttle_answers_before_a_missing_action_and_counts_it(make_api: MakeApi) -> None:
    api, dispatcher = _limits(make_api, 5, per_minute=1)
    error(api.post(f"{NS}/actions/nothing-here", {}), 404)  # counted, though it never reached a placement
    assert error(api.post(f"{NS}/actions/nothing-here", {}), 429) == \
        "Too many requests in the last minute (count: 2, allowed: 1)."
    assert error(api.post(f"{NS}/actions/slow", {}), 429) == \
        "Too many requests in the last minute (count: 3, allowed: 1)."
    assert dispatcher.published == [] and dispatcher.inflight.count(api.ns) == 0


def test_a_failed_round_trip_counts_the_minute_here_and_lets_the_invoke_through(make_api: MakeApi) -> None:
    api, dispatcher = _limits(make_api, 1, per_minute=3)
    dispatcher.replying = StoreError("Redis is unreachable")
    for _ in range(3):
        ok(api.post(f"{NS}/actions/slow", {}), 202)  # uncounted in flight: the limit of 1 does not refuse them
    assert dispatcher.inflight.count(api.ns) == 0
    error(api.post(f"{NS}/actions/slow", {}), 429)  # but each was counted in the minute, by the counter itself


def test_not_sent_makes_the_controller_make_each_call(make_api: MakeApi) -> None:
    api, dispatcher = _limits(make_api, 1)
    dispatcher.replying = NOT_SENT
    ok(api.post(f"{NS}/actions/slow", {}), 202)
    assert dispatcher.inflight.count(api.ns) == 1
    error(api.post(f"{NS}/actions/slow", {}), 429)


def test_a_slot_taken_for_an_invoke_that_is_not_published_is_given_back(make_api: MakeApi) -> None:
    api, dispatcher = _limits(make_api, 1)
    dispatcher.unavailable = True
    for _ in range(3):
        error(api.post(f"{NS}/actions/slow", {}), 503)  # never accepted: never in flight
    assert dispatcher.inflight.count(api.ns) == 0
    dispatcher.unavailable = False
    ok(api.post(f"{NS}/actions/slow", {}), 202)
