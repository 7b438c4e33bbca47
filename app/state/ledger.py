"""The step ledger: remembers which composition steps have been carried out.

Why: the step that follows a component is published before the component's message is acknowledged, so
a worker that loses its broker connection in between has the message redelivered, and the component's
completion arrives twice. The second copy must not advance the composition again. A step is marked done
only after its effects were published, so a step that crashed half-way is carried out again when its
own message comes back (its effects are idempotent: derived ids, first-write-wins records).
Marks are shared (Redis) so any worker sees them, and expire after a day.
"""

from __future__ import annotations

import threading

import redis
import redis.exceptions

from app.core.errors import Unavailable

MARK_TTL_S = 86_400
KEY_PREFIX = "squall:step:"


class RedisStepLedger:
    """``app.core.ports.StepLedger`` over Redis: ``EXISTS`` to ask, ``SET ... EX`` to mark."""

    def __init__(self, redis_url: str, ttl_s: int = MARK_TTL_S, prefix: str = KEY_PREFIX) -> None:
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        self._ttl_s = ttl_s
        self._prefix = prefix

    def done(self, key: str) -> bool:
        try:
            return bool(self._redis.exists(self._prefix + key))
        except redis.exceptions.RedisError as e:
            raise Unavailable("The step ledger (Redis) cannot be reached.") from e

    def mark_done(self, key: str) -> None:
        try:
            self._redis.set(self._prefix + key, b"1", ex=self._ttl_s)
        except redis.exceptions.RedisError as e:
            raise Unavailable("The step ledger (Redis) cannot be reached.") from e

    def close(self) -> None:
        self._redis.close()


class MemoryStepLedger:
    """In-process marks, for tests and a single-process deployment."""

    def __init__(self) -> None:
        self._done: set[str] = set()
        self._lock = threading.Lock()

    def done(self, key: str) -> bool:
        with self._lock:
            return key in self._done

    def mark_done(self, key: str) -> None:
        with self._lock:
            self._done.add(key)

    def close(self) -> None:
        return None
