"""Membership and placement as a controller sees them, over the in-process registry; the invoker's announcer;
and what a hand-off does with a message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.core.errors import StoreError
from app.core.placement import Placement, rendezvous
from app.core.services.placement import Membership, Placer
from app.state.registry import MemoryInvokerRegistry
from workers.handoff import HandOff
from workers.membership import Announcer

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def registry_with(*invokers: tuple[str, int, int], clock: Clock | None = None) -> MemoryInvokerRegistry:
    registry = MemoryInvokerRegistry(clock=clock or Clock())
    for name, capacity, threads in invokers:
        registry.announce({"name": name, "capacity_mb": capacity, "threads": threads}, ttl_s=3)
    return registry


def test_membership_reads_the_registry_once_per_refresh() -> None:
    clock = Clock()
    registry = registry_with(("a", 1024, 4), clock=clock)
    membership = Membership(registry, refresh_s=0.5, clock=clock)
    assert set(membership.healthy()) == {"a"}
    registry.announce({"name": "b", "capacity_mb": 1024, "threads": 4}, ttl_s=3)
    assert set(membership.healthy()) == {"a"}  # the copy is still fresh
    clock.now += 0.6
    assert set(membership.healthy()) == {"a", "b"}


def test_a_silent_invoker_is_out_and_back_when_it_speaks() -> None:
    clock = Clock()
    registry = registry_with(("a", 1024, 4), ("b", 1024, 4), clock=clock)
    membership = Membership(registry, refresh_s=0.0, clock=clock)
    clock.now += 2
    registry.announce({"name": "b", "capacity_mb": 1024, "threads": 4}, ttl_s=3)
    clock.now += 2  # a's report (3 s) has lapsed, b's not
    assert set(membership.healthy()) == {"b"} and registry.departed() == ["a"]
    registry.announce({"name": "a", "capacity_mb": 1024, "threads": 4}, ttl_s=3)
    assert set(membership.healthy()) == {"a", "b"} and registry.departed() == []


def test_the_allow_list_limits_placement() -> None:
    registry = registry_with(("a", 1024, 4), ("b", 1024, 4))
    assert set(Membership(registry, allowed=("b", "c"), refresh_s=0.0).healthy()) == {"b"}


class Flaky(MemoryInvokerRegistry):
    broken = False

    def reports(self) -> dict[str, dict[str, Any]]:
        if self.broken:
            raise StoreError("down")
        return super().reports()


def test_an_unreadable_registry_leaves_the_last_known_invokers() -> None:
    registry = Flaky()
    registry.announce({"name": "a", "capacity_mb": 512, "threads": 2}, ttl_s=3)
    membership = Membership(registry, refresh_s=0.0)
    assert set(membership.healthy()) == {"a"}
    registry.broken = True
    assert set(membership.healthy()) == {"a"}


def test_invokers_known_before_an_outage_stay_placeable_until_they_could_announce_again() -> None:
    clock = Clock()
    registry = Flaky(clock=clock)
    registry.announce({"name": "a", "capacity_mb": 512, "threads": 2}, ttl_s=3)
    membership = Membership(registry, refresh_s=0.0, clock=clock, grace_s=3.0)
    assert set(membership.healthy()) == {"a"}
    registry.broken = True
    clock.now += 15  # Redis away; a's report lapses meanwhile
    assert set(membership.healthy()) == {"a"}
    registry.broken = False
    assert registry.reports() == {}
    assert set(membership.healthy()) == {"a"}  # back, but a has not announced again yet: not a 503
    clock.now += 2
    assert set(membership.healthy()) == {"a"}
    clock.now += 2  # a heartbeat's chance and more: a is gone
    assert membership.healthy() == {}


def test_a_registry_that_is_readable_throughout_drops_a_silent_invoker_at_once() -> None:
    clock = Clock()
    registry = registry_with(("a", 512, 2), clock=clock)
    membership = Membership(registry, refresh_s=0.0, clock=clock, grace_s=3.0)
    assert set(membership.healthy()) == {"a"}
    clock.now += 4
    assert membership.healthy() == {}


def test_the_placer_fills_the_home_then_overflows_in_the_actions_order() -> None:
    registry = registry_with(("a", 512, 8), ("b", 512, 8), ("c", 512, 8))
    placer = Placer(Membership(registry, refresh_s=0.0))
    order = rendezvous("guest|hot", ["a", "b", "c"])
    placed = [placer.place("guest|hot", 256) for _ in range(7)]
    assert [p.invoker for p in placed if p] == [order[0]] * 2 + [order[1]] * 2 + [order[2]] * 2 + [order[0]]
    assert [p.reserved for p in placed if p] == [True] * 6 + [False]  # all full: home, unreserved
    assert registry.reserved(order[0]) == (512, 2)


def test_threads_bound_placement_as_memory_does() -> None:
    registry = registry_with(("a", 4096, 2))
    placer = Placer(Membership(registry, refresh_s=0.0))
    assert [p.reserved for p in (placer.place("k", 128) for _ in range(3)) if p] == [True, True, False]


def test_a_failed_publish_gives_the_room_back_and_no_invoker_is_none() -> None:
    registry = registry_with(("a", 256, 4))
    placer = Placer(Membership(registry, refresh_s=0.0))
    placement = placer.place("k", 256)
    assert placement == Placement("a", reserved=True) and registry.reserved("a") == (256, 1)
    placer.unplace(placement, 256)
    assert registry.reserved("a") == (0, 0)
    assert Placer(Membership(MemoryInvokerRegistry(), refresh_s=0.0)).place("k", 256) is None
    assert Placer(Membership(MemoryInvokerRegistry(), refresh_s=0.0)).home("k") is None


def test_the_announcer_resets_announces_and_leaves() -> None:
    registry = MemoryInvokerRegistry()
    registry.reserve("me", 256, 1024, 4)
    announcer = Announcer(registry, lambda: {"name": "me", "capacity_mb": 1024, "threads": 4, "in_flight": 0},
                          heartbeat_s=60, ttl_s=3)
    announcer.start("me")
    try:
        assert registry.reserved("me") == (0, 0)  # an earlier life's reservations are gone
        report = registry.reports()["me"]
        assert report["capacity_mb"] == 1024 and report["host"] and report["at_ms"] > 0
    finally:
        announcer.stop("me")
    assert registry.reports() == {} and registry.departed() == ["me"]


def test_a_handed_off_invoke_is_placed_again_with_its_reservation() -> None:
    registry = registry_with(("live", 1024, 4))
    handoff = HandOff(celery=None, registry=registry,  # type: ignore[arg-type]
                      placer=Placer(Membership(registry, refresh_s=0.0)), me="live", interval_s=1.0)
    body = json.dumps([[], {"namespace": "guest", "action": "guest/a", "memory_mb": 256, "placed_on": "dead",
                            "reserved_mb": 256}, {}])
    target, moved = handoff._target({"task": "squall.invoke", "id": "x"}, body)
    assert target == "live"
    assert json.loads(moved)[1] | {} == {"namespace": "guest", "action": "guest/a", "memory_mb": 256,
                                        "placed_on": "live", "reserved_mb": 256}
    assert registry.reserved("live") == (256, 1)
    other, same = handoff._target({"task": "squall.store_record", "id": "y"}, "{}")
    assert other == "live" and same == "{}"


def test_no_live_invoker_is_503_before_anything_is_published() -> None:
    from app.core.entities import ActivationMessage
    from app.core.errors import Unavailable
    from tasks.dispatch import CeleryDispatcher

    dispatcher = CeleryDispatcher(None, ("unused",), Placer(Membership(MemoryInvokerRegistry(),  # type: ignore[arg-type]
                                                                       refresh_s=0.0)))
    message = ActivationMessage(activation_id="a" * 32, transaction_id="t", namespace="guest", subject="guest",
                                action="guest/a", revision="1-x", content={}, blocking=True, received_ms=1,
                                memory_mb=256)
    with pytest.raises(Unavailable, match="No invokers are available"):
        dispatcher.publish(message)
    with pytest.raises(Unavailable):
        dispatcher.publish_step({}, "guest|guest/s")


def test_the_runner_gives_back_the_room_reserved_for_its_activation() -> None:
    from app.core.entities import Activation, ActivationMessage, Status
    from workers.completion import ActivationRunner

    class StandIn:
        def invoke(self, message: ActivationMessage, publish: Any, notes: Any = None) -> Activation:
            return Activation.ended(namespace="guest", name="a", version="0.0.1", subject="guest",
                                    activation_id=message.activation_id, start=1, end=2, status=Status.SUCCESS,
                                    result={})

        def status(self) -> dict[str, Any]:
            return {"name": "me"}

    registry = registry_with(("me", 1024, 4))
    assert registry.reserve("me", 256, 1024, 4)
    runner = ActivationRunner(StandIn(), follow_ups=None, registry=registry)  # type: ignore[arg-type]
    message = ActivationMessage(activation_id="b" * 32, transaction_id="t", namespace="guest", subject="guest",
                                action="guest/a", revision="1-x", content={}, blocking=True, received_ms=1,
                                memory_mb=256, placed_on="me", reserved_mb=256)
    runner.run(message, lambda doc: None)
    assert registry.reserved("me") == (0, 0) and runner.status()["in_flight"] == 0


class StandInInvoker:
    """Runs nothing: each message ends at once, or is not started (``TryLater``) while ``later`` is set."""

    later = False

    def invoke(self, message: Any, publish: Any, notes: Any = None) -> Any:
        from app.core.entities import Activation, Status
        from workers.invoker import TryLater

        if self.later:
            raise TryLater("the journal cannot be reached")
        return Activation.ended(namespace="guest", name="a", version="0.0.1", subject="guest",
                                activation_id=message.activation_id, start=1, end=2, status=Status.SUCCESS,
                                result={})

    def status(self) -> dict[str, Any]:
        return {"name": "me"}


def reserved_message(n: int) -> Any:
    from app.core.entities import ActivationMessage

    return ActivationMessage(activation_id=f"{n:032x}", transaction_id="t", namespace="guest", subject="guest",
                             action="guest/a", revision="1-x", content={}, blocking=False, received_ms=1,
                             memory_mb=256, placed_on="me", reserved_mb=256)


def test_room_that_could_not_be_given_back_during_an_outage_is_given_back_after_it() -> None:
    from workers.completion import ActivationRunner

    class Unreleasable(MemoryInvokerRegistry):
        broken = False

        def release(self, name: str, memory_mb: int) -> None:
            if self.broken:
                raise StoreError("cannot release room: Redis is unreachable")
            super().release(name, memory_mb)

    registry = Unreleasable()
    registry.announce({"name": "me", "capacity_mb": 1024, "threads": 4}, ttl_s=3)
    runner = ActivationRunner(StandInInvoker(), follow_ups=None, registry=registry)  # type: ignore[arg-type]
    for _ in range(3):
        assert registry.reserve("me", 256, 1024, 4)
    registry.broken = True
    runner.run(reserved_message(1), lambda doc: None)
    runner.run(reserved_message(2), lambda doc: None)
    assert registry.reserved("me") == (768, 3)  # owed while Redis is away
    registry.broken = False
    runner.run(reserved_message(3), lambda doc: None)
    assert registry.reserved("me") == (0, 0)  # the next release that gets through settles what was owed


def test_a_message_put_back_for_later_keeps_its_room_for_the_run_that_comes_of_it() -> None:
    from workers.completion import ActivationRunner
    from workers.invoker import TryLater

    registry = registry_with(("me", 1024, 4))
    invoker = StandInInvoker()
    runner = ActivationRunner(invoker, follow_ups=None, registry=registry)  # type: ignore[arg-type]
    assert registry.reserve("me", 256, 1024, 4) and registry.reserve("me", 256, 1024, 4)
    invoker.later = True
    with pytest.raises(TryLater):
        runner.run(reserved_message(1), lambda doc: None)
    assert registry.reserved("me") == (512, 2) and runner.status()["in_flight"] == 0
    invoker.later = False
    runner.run(reserved_message(1), lambda doc: None)  # the redelivery
    assert registry.reserved("me") == (256, 1)  # its own room, once; the other activation's is still held


def test_a_reservation_that_could_not_be_made_is_not_given_back_later() -> None:
    class Down(MemoryInvokerRegistry):
        def reserve(self, name: str, memory_mb: int, capacity_mb: int, threads: int) -> bool:
            raise StoreError("down")

    registry = Down()
    registry.announce({"name": "a", "capacity_mb": 1024, "threads": 4}, ttl_s=3)
    assert Placer(Membership(registry, refresh_s=0.0)).place("k", 256) == Placement("a", reserved=False)


def test_while_no_room_can_be_reserved_the_live_invokers_take_turns() -> None:
    class Down(MemoryInvokerRegistry):
        def reserve(self, name: str, memory_mb: int, capacity_mb: int, threads: int) -> bool:
            raise StoreError("down")

    registry = Down()
    for name in ("a", "b", "c"):
        registry.announce({"name": name, "capacity_mb": 1024, "threads": 4}, ttl_s=3)
    placer = Placer(Membership(registry, refresh_s=0.0))
    placed = [placer.place("k", 256) for _ in range(6)]
    assert sorted(p.invoker for p in placed if p) == ["a", "a", "b", "b", "c", "c"]  # not six on the home
    assert not any(p.reserved for p in placed if p)


def test_callers_arriving_during_the_first_read_wait_for_it() -> None:
    import threading
    import time

    class Slow(MemoryInvokerRegistry):
        def reports(self) -> dict[str, dict[str, Any]]:
            time.sleep(0.05)  # a registry read in flight while the other callers arrive
            return super().reports()

    registry = Slow()
    registry.announce({"name": "a", "capacity_mb": 1024, "threads": 4}, ttl_s=30)
    membership = Membership(registry, refresh_s=10.0)
    seen: list[set[str]] = []
    threads = [threading.Thread(target=lambda: seen.append(set(membership.healthy()))) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == [{"a"}] * 16
