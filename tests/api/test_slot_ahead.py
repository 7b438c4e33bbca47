"""The ``concurrentInvocations`` slot when it travels with the activation's placement (``app.core.ports.Ahead``), as
it does over Redis: the count that comes back decides the 429 before anything is published, a failed round trip
lets the invoke through uncounted, ``NOT_SENT`` makes the controller take the slot itself, and a slot taken for an
invoke that is then not published is given back.

Here the dispatcher plays the round trip: it makes the command it is handed against the in-process count and
passes the reply on, as ``tasks.dispatch.CeleryDispatcher`` does with the reservation's Redis pipeline."""

from __future__ import annotations

import pytest

from app.core.entities import ActivationMessage
from app.core.errors import StoreError
from app.core.ports import NOT_SENT, Ahead, SharedWrite
from app.state.inflight import MemoryInFlight
from app.store import Store
from tests.api.conftest import NS, Api, EchoDispatcher, MakeApi, Reply, error, ok

pytestmark = pytest.mark.api


class TravellingInFlight(MemoryInFlight):
    """Offers its acquire as a command, as ``RedisInFlight`` does."""

    def acquire_later(self, namespace: str, activation_id: str, ttl_ms: int, allowed: int | None) -> SharedWrite:
        return ("ACQUIRE", namespace, activation_id, ttl_ms, -1 if allowed is None else allowed)


class CarryingDispatcher(EchoDispatcher):
    """Makes the command it is handed (or fails it, or does not send it) and passes the reply to ``then``."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, TravellingInFlight())
        self.carried: list[SharedWrite] = []
        self.replying: object = "make it"
        self.given_back = 0

    def publish(self, message: ActivationMessage, ahead: Ahead | None = None) -> None:
        if ahead is not None:
            self.carried.append(ahead.command)
            _, namespace, activation_id, ttl_ms, allowed = ahead.command
            reply = self.replying
            if reply == "make it":
                assert isinstance(namespace, str) and isinstance(activation_id, str)
                assert isinstance(ttl_ms, int) and isinstance(allowed, int)
                reply = self.inflight.acquire(namespace, activation_id, ttl_ms, None if allowed < 0 else allowed)
            try:
                ahead.then(reply)
            except BaseException:
                self.given_back += 1  # the reservation made in the same round trip goes back
                raise
        super().publish(message)


def _limit(make_api: MakeApi, allowed: int) -> tuple[Api, CarryingDispatcher]:
    api = make_api(dispatcher_class=CarryingDispatcher, limits={"concurrent_invocations": allowed})
    dispatcher = api.dispatcher
    assert isinstance(dispatcher, CarryingDispatcher)
    api.action("slow")
    dispatcher.replies[f"{api.ns}/slow"] = Reply(finishes=False)
    return api, dispatcher


def test_the_count_that_comes_back_decides_the_429_before_anything_is_published(make_api: MakeApi) -> None:
    api, dispatcher = _limit(make_api, 1)
    ok(api.post(f"{NS}/actions/slow", {}), 202)
    published = len(dispatcher.published)
    assert error(api.post(f"{NS}/actions/slow", {}), 429) == \
        "Too many concurrent requests in flight (count: 1, allowed: 1)."
    assert len(dispatcher.published) == published  # refused before the publish
    assert dispatcher.given_back == 1
    assert len(dispatcher.carried) == 2 and dispatcher.inflight.count(api.ns) == 1
    assert dispatcher.carried[0][4] == 1  # the namespace's limit travels with the command


def test_a_failed_round_trip_lets_the_invoke_through_uncounted(make_api: MakeApi) -> None:
    api, dispatcher = _limit(make_api, 1)
    dispatcher.replying = StoreError("Redis is unreachable")
    for _ in range(3):
        ok(api.post(f"{NS}/actions/slow", {}), 202)
    assert dispatcher.inflight.count(api.ns) == 0


def test_not_sent_makes_the_controller_take_the_slot_itself(make_api: MakeApi) -> None:
    api, dispatcher = _limit(make_api, 1)
    dispatcher.replying = NOT_SENT
    ok(api.post(f"{NS}/actions/slow", {}), 202)
    assert dispatcher.inflight.count(api.ns) == 1
    error(api.post(f"{NS}/actions/slow", {}), 429)


def test_a_slot_taken_for_an_invoke_that_is_not_published_is_given_back(make_api: MakeApi) -> None:
    api, dispatcher = _limit(make_api, 1)
    dispatcher.unavailable = True
    for _ in range(3):
        error(api.post(f"{NS}/actions/slow", {}), 503)
    assert dispatcher.inflight.count(api.ns) == 0
    dispatcher.unavailable = False
    ok(api.post(f"{NS}/actions/slow", {}), 202)
