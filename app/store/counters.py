"""Shared counters in Redis for the namespace throttles, so every controller counts the same minute."""

from __future__ import annotations

import redis

from app.core.errors import StoreError


class RedisCounters:
    """Implements ``app.core.ports.RateCounter``: ``INCR`` plus ``EXPIRE`` in one transaction."""

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def increment(self, key: str, ttl_s: int) -> int:
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
