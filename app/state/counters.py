"""Counters for the namespace throttles: in Redis so every controller counts the same minute, or in this process.

Chosen by ``app.state.SharedState``; the throttle arithmetic is ``app.core.limits``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from app.core.outage import Outage
from app.core.ports import SharedWrite
from app.state.client import quick_client

log = logging.getLogger(__name__)

_INCREMENT = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX')
return count
"""
"""``increment`` as one command, to travel in another round trip (``increment_later``): KEYS[1] the counter,
ARGV[1] its time to live in seconds."""


class RedisCounters:
    """Implements ``app.core.ports.RateCounter``: ``INCR`` plus ``EXPIRE NX`` in one round trip.

    Fails open: while Redis cannot be reached, counts go on in this process's memory. A throttle is protection,
    not the service, so an outage must not fail invokes; and a count of this process's calls alone is never more
    than the shared count, so no caller is throttled who would not have been, while a flood through one controller
    is still stopped during a long outage. The outage is logged once, not per request.
    """

    def __init__(self, url: str, prefix: str = "") -> None:
        self._redis = quick_client(url)
        self._prefix = prefix  # deployments sharing one Redis count apart
        self._outage = Outage("Redis (throttle counters; counting in this process meanwhile)", log)
        self._local = MemoryCounters()

    def increment(self, key: str, ttl_s: int) -> int:
        key = self._prefix + key
        if self._outage.skip():
            return self._local.increment(key, ttl_s)
        try:
            # One round trip without MULTI/EXEC: EXPIRE NX only ever sets the first TTL, so nothing needs atomicity.
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, ttl_s, nx=True)
                count, _ = pipe.execute()
        except redis.RedisError as e:
            self._outage.failed(e)
            return self._local.increment(key, ttl_s)
        self._outage.succeeded()
        return int(count)

    def increment_later(self, key: str, ttl_s: int) -> SharedWrite | None:
        if self._outage.skip():
            return None  # ``increment`` counts in this process meanwhile
        # EVAL, not EVALSHA: whoever sends it need not know the script (Redis caches it by its hash either way).
        return ("EVAL", _INCREMENT, 1, self._prefix + key, ttl_s)

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

    def increment_later(self, key: str, ttl_s: int) -> None:
        return None  # nothing to save: counted in this process

    def close(self) -> None:
        return None
