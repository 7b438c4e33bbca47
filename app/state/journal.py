"""The start journal: remembers which activations an invoker has begun to run.

Why: with ``task_acks_late`` a message comes back if its invoker dies. A redelivered message whose
activation already started must not run the action again ("no action body runs twice");
the claim tells the invoker which case it is in. Claims are shared (Redis) so any invoker that gets
the redelivery sees them, and they expire after a day.
"""

from __future__ import annotations

import threading

import redis
import redis.exceptions

from app.core.errors import Unavailable

CLAIM_TTL_S = 86_400
KEY_PREFIX = "squall:started:"


class RedisJournal:
    """``app.core.ports.StartJournal`` over Redis. Claims as ``SET key 1 NX EX ttl``: atomic, one round trip."""

    def __init__(self, redis_url: str, ttl_s: int = CLAIM_TTL_S, prefix: str = KEY_PREFIX) -> None:
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        self._ttl_s = ttl_s
        self._prefix = prefix

    def claim(self, activation_id: str) -> bool:
        try:
            return bool(self._redis.set(self._prefix + activation_id, b"1", nx=True, ex=self._ttl_s))
        except redis.exceptions.RedisError as e:
            raise Unavailable("The activation journal (Redis) cannot be reached.") from e

    def close(self) -> None:
        self._redis.close()


class MemoryJournal:
    """``StartJournal`` in this process: claims, for tests and the single-process standalone mode."""

    def __init__(self) -> None:
        self._claimed: set[str] = set()
        self._lock = threading.Lock()

    def claim(self, activation_id: str) -> bool:
        with self._lock:
            if activation_id in self._claimed:
                return False
            self._claimed.add(activation_id)
            return True

    def close(self) -> None:
        return None
