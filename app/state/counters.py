"""Counters for the namespace throttles: in Redis so every controller counts the same minute, or in this process.

Chosen by ``app.state.SharedState``; the throttle arithmetic is ``app.core.limits``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import redis

from app.core.errors import StoreError


class RedisCounters:
    """Implements ``app.core.ports.RateCounter``: ``INCR`` plus ``EXPIRE`` in one transaction."""

    def __init__(self, url: str, prefix: str = "") -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._prefix = prefix  # deployments sharing one Redis count apart

    def increment(self, key: str, ttl_s: int) -> int:
        key = self._prefix + key
        try:
            with self._redis.pipeline() as pipe:
                pipe.incr(key)
                pipe.expire(key, ttl_s, nx=True)
                count, _ = pipe.execute()
        except redis.RedisError as e:
            raise StoreError(f"cannot count {key} in Redis: {e}") from e
        return int(count)

    def close(self) -> None:
        self._redis.close()


class MemoryCounters:
    """A ``RateCounter`` for one process (tests, standalone): counts expire with their window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counts: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def increment(self, key: str, ttl_s: int) -> int:
        now = self._clock()
        with self._lock:
            for stale in [k for k, (expires, _) in self._counts.items() if expires <= now]:
                del self._counts[stale]
            expires, count = self._counts.get(key, (now + ttl_s, 0))
            self._counts[key] = (expires, count + 1)
            return count + 1

    def close(self) -> None:
        return None
