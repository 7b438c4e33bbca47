"""The throttle's count, the in-flight slot and the room on an invoker in one round trip to the real Redis
(``Placer.place_after`` with ``RedisCounters.increment_later`` and ``RedisInFlight.acquire_later``): all are
taken, a refused slot adds nothing, an invoker without room passes the reservation on without sending the slot
twice, the count keeps its window, and a Redis that cannot be reached fails the slot open."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from app.core.errors import StoreError
from app.core.ports import NOT_SENT, SharedWrite
from app.core.services.placement import Membership, Placer
from app.state.counters import RedisCounters
from app.state.inflight import KEY_PREFIX, RedisInFlight
from app.state.registry import RedisInvokerRegistry
from tests.integration.test_inflight_redis import LocalRedis

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix() -> str:
    return f"squall:test:{secrets.token_hex(4)}:"


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this module's own: its command counts are these tests' alone."""
    server = LocalRedis(tmp_path)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@dataclass
class Parts:
    """What a controller holds over Redis for the slot and the room, and a plain client to look with."""

    registry: RedisInvokerRegistry
    inflight: RedisInFlight
    counters: RedisCounters
    client: redis.Redis
    slots: str  # the namespace "ns"'s set of activations in flight


@pytest.fixture
def parts(redis_url: str, prefix: str) -> Iterator[Parts]:
    made = Parts(RedisInvokerRegistry(redis_url, prefix), RedisInFlight(redis_url, prefix),
                 RedisCounters(redis_url, prefix), redis.Redis.from_url(redis_url), prefix + KEY_PREFIX + "ns")
    try:
        yield made
    finally:
        made.client.close()
        made.counters.close()
        made.inflight.close()
        made.registry.close()


def _calls(client: redis.Redis) -> dict[str, int]:
    return {name: stats["calls"] for name, stats in client.info("commandstats").items()}


def _announce(registry: RedisInvokerRegistry, name: str, capacity_mb: int) -> None:
    report: dict[str, Any] = {"name": name, "capacity_mb": capacity_mb, "threads": 4}
    registry.announce(report, 60)


def _later(inflight: RedisInFlight, activation_id: str, allowed: int | None) -> tuple[SharedWrite, ...]:
    command = inflight.acquire_later("ns", activation_id, 60_000, allowed)
    assert command is not None
    return (command,)


def _reserved(client: redis.Redis, prefix: str, name: str) -> tuple[int, int]:
    values = client.hmget(f"{prefix}reserved:{name}", "mb", "n")
    return int(values[0] or 0), int(values[1] or 0)


def test_the_slot_and_the_room_are_taken_in_one_round_trip(parts: Parts, prefix: str) -> None:
    _announce(parts.registry, "inv0", 1024)
    placer = Placer(Membership(parts.registry))
    parts.client.config_resetstat()
    placement, reply = placer.place_after(_later(parts.inflight, "a1", 2), "ns|act", 256)
    calls = _calls(parts.client)
    assert placement is not None and placement.invoker == "inv0" and placement.reserved
    assert reply == [0]  # none in flight before this one
    assert calls.get("cmdstat_eval") == 2 and "cmdstat_evalsha" not in calls  # both scripts, one pipeline
    assert parts.client.zrange(parts.slots, 0, -1) == [b"a1"]
    assert _reserved(parts.client, prefix, "inv0") == (256, 1)

    second, _ = placer.place_after(_later(parts.inflight, "a2", 2), "ns|act", 256)
    assert second is not None
    # At the limit: the slot is refused (the count says so) and nothing is added; the room was taken, and the
    # dispatcher gives it back when the caller refuses the activation.
    refused, count = placer.place_after(_later(parts.inflight, "a3", 2), "ns|act", 256)
    assert count == [2]
    assert sorted(parts.client.zrange(parts.slots, 0, -1)) == [b"a1", b"a2"]
    assert refused is not None and refused.reserved
    placer.unplace(refused, 256)
    assert _reserved(parts.client, prefix, "inv0") == (512, 2)


def test_a_full_home_passes_the_room_on_and_the_slot_is_sent_once(parts: Parts) -> None:
    _announce(parts.registry, "inv0", 256)
    _announce(parts.registry, "inv1", 256)
    placer = Placer(Membership(parts.registry))
    first = placer.place("ns|act", 256)
    assert first is not None and first.reserved
    parts.client.config_resetstat()
    placement, reply = placer.place_after(_later(parts.inflight, "a1", None), "ns|act", 256)
    calls = _calls(parts.client)
    assert placement is not None and placement.reserved and placement.invoker != first.invoker
    assert reply == [0]
    # The slot with the home's room (refused), then the next one's room alone.
    assert calls.get("cmdstat_eval") == 2 and calls.get("cmdstat_evalsha") == 1
    assert calls.get("cmdstat_zadd") == 1
    assert parts.client.zrange(parts.slots, 0, -1) == [b"a1"]


def test_no_invoker_sends_nothing_and_an_unreachable_redis_fails_the_slot_open(parts: Parts, prefix: str) -> None:
    away = RedisInvokerRegistry("redis://127.0.0.1:1/0", prefix)
    try:
        command = _later(parts.inflight, "a1", 2)
        assert Placer(Membership(parts.registry)).place_after(command, "ns|act", 256) == (None, NOT_SENT)

        _announce(parts.registry, "inv0", 1024)
        membership = Membership(away, allowed=("inv0",))  # the registry cannot be read: the allow-list serves
        placement, reply = Placer(membership).place_after(command, "ns|act", 256)
        assert placement is not None and placement.invoker == "inv0" and not placement.reserved
        assert isinstance(reply, StoreError)  # the caller lets the activation through uncounted
    finally:
        away.close()


def test_the_throttle_count_travels_too_and_keeps_its_window(parts: Parts, prefix: str) -> None:
    _announce(parts.registry, "inv0", 1024)
    placer = Placer(Membership(parts.registry))
    window = "squall:throttle:invocations:ns:1"
    counted = [parts.counters.increment_later(window, 65) for _ in range(2)]
    parts.client.config_resetstat()
    replies = [placer.place_after((count, *_later(parts.inflight, f"a{n}", None)), "ns|act", 256)[1]
               for n, count in enumerate(counted) if count is not None]
    assert replies == [[1, 0], [2, 1]]  # the minute's count, then the slots in flight before each
    calls = _calls(parts.client)
    assert calls.get("cmdstat_eval") == 6 and "cmdstat_evalsha" not in calls
    assert parts.counters.increment(window, 65) == 3  # one count, however it travels
    assert 60 < parts.client.ttl(prefix + window) <= 65  # set by the first, kept
