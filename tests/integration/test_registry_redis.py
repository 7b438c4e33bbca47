"""The invoker registry on the real Redis: time to live, departures, atomic reservations from many threads,
hand-off claims, and deployments kept apart by their prefix."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from app.core.errors import StoreError
from app.state.registry import RedisInvokerRegistry

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    prefix = f"squall:test:{secrets.token_hex(4)}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def test_an_invoker_is_live_until_its_report_expires_then_departed(redis_url: str, prefix: str) -> None:
    registry = RedisInvokerRegistry(redis_url, prefix)
    try:
        registry.announce({"name": "a", "capacity_mb": 1024, "threads": 4}, ttl_s=0.3)
        registry.announce({"name": "b", "capacity_mb": 512, "threads": 2}, ttl_s=30)
        assert registry.reports()["a"]["capacity_mb"] == 1024 and set(registry.reports()) == {"a", "b"}
        assert registry.departed() == []
        deadline = time.monotonic() + 5
        while "a" in registry.reports() and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for Redis to expire the key
        assert set(registry.reports()) == {"b"} and registry.departed() == ["a"]
        registry.leave("b")
        assert registry.reports() == {} and registry.departed() == ["a", "b"]
        registry.forget("a")
        assert registry.departed() == ["b"]
    finally:
        registry.close()


def test_leaving_removes_only_the_report_this_process_made(redis_url: str, prefix: str) -> None:
    """An invoker restarted under the same name announces while the old process still drains; the old one's
    leaving on exit must not take the new one out of placement."""
    registry = RedisInvokerRegistry(redis_url, prefix)
    try:
        registry.announce({"name": "a", "owner": "old"}, ttl_s=30)
        registry.announce({"name": "a", "owner": "new"}, ttl_s=30)  # the restarted one
        registry.leave("a", "old")
        assert registry.reports()["a"]["owner"] == "new"
        registry.leave("a", "new")
        assert registry.reports() == {}
    finally:
        registry.close()


def test_reservations_from_many_threads_never_exceed_capacity(redis_url: str, prefix: str) -> None:
    registries = [RedisInvokerRegistry(redis_url, prefix) for _ in range(4)]  # as four controllers
    granted: list[bool] = []
    lock = threading.Lock()

    def take(registry: RedisInvokerRegistry) -> None:
        for _ in range(25):
            ok = registry.reserve("a", 256, 1024, 16)
            with lock:
                granted.append(ok)

    try:
        threads = [threading.Thread(target=take, args=(r,)) for r in registries]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert granted.count(True) == 4  # 1024 MB / 256 MB, whoever asked
        assert not registries[0].reserve("a", 256, 1024, 16)
        registries[0].release("a", 256)
        assert registries[1].reserve("a", 256, 1024, 16)
        assert not registries[1].reserve("b", 128, 4096, 0)  # no thread free
        registries[0].reset("a")
        assert all(registries[0].reserve("a", 256, 1024, 16) for _ in range(4))
        for _ in range(10):  # more releases than reservations never go below zero
            registries[0].release("a", 256)
        assert sum(registries[0].reserve("a", 256, 1024, 16) for _ in range(5)) == 4
    finally:
        for r in registries:
            r.close()


def test_placements_are_counted_per_minute(redis_url: str, prefix: str) -> None:
    now = [600.0]
    registry = RedisInvokerRegistry(redis_url, prefix, clock=lambda: now[0])
    try:
        assert registry.reserve("a", 128, 1024, 8)
        registry.placed("a")
        assert registry.placements("a") == 0  # the minute is not over
        now[0] += 60
        assert registry.placements("a") == 2
    finally:
        registry.close()


def test_one_holder_hands_off_at_a_time(redis_url: str, prefix: str) -> None:
    registry = RedisInvokerRegistry(redis_url, prefix)
    try:
        assert registry.claim_handoff("dead", "x", ttl_s=0.3)
        assert registry.claim_handoff("dead", "x", ttl_s=0.3)  # the holder renews
        assert not registry.claim_handoff("dead", "y", ttl_s=0.3)
        deadline = time.monotonic() + 5
        while not registry.claim_handoff("dead", "y", ttl_s=0.3) and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for x's claim to expire
        assert not registry.claim_handoff("dead", "x", ttl_s=0.3)
    finally:
        registry.close()


def test_deployments_sharing_redis_never_see_each_other(redis_url: str, prefix: str) -> None:
    ours, theirs = RedisInvokerRegistry(redis_url, prefix + "one:"), RedisInvokerRegistry(redis_url, prefix + "two:")
    try:
        ours.announce({"name": "a"}, ttl_s=30)
        assert "a" in ours.reports() and theirs.reports() == {} and theirs.departed() == []
    finally:
        ours.close()
        theirs.close()


def test_unreachable_redis_is_a_store_error() -> None:
    registry = RedisInvokerRegistry("redis://127.0.0.1:1/0", "squall:test:")
    try:
        with pytest.raises(StoreError):
            registry.reports()
        with pytest.raises(StoreError):
            registry.reserve("a", 1, 2, 3)
    finally:
        registry.close()
