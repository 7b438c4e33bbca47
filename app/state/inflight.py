"""Each namespace's activations in flight (``app.core.ports.InFlight``): in Redis so every controller and invoker
counts the same ones, or in this process.

Redis form: one sorted set per namespace, its members the activation ids, each scored by its deadline (ms on
Redis's clock, so controllers whose clocks differ agree). Acquiring is one Lua script, atomic across controllers:
drop the members past their deadline, count, and add the id only when the count is under the limit. Releasing is a
``ZREM``. An id released twice, or released without having been added, changes nothing; one never released (its
invoker lost the message) drops out at its deadline: a slot cannot leak. The key expires with its last deadline, so
an idle namespace leaves nothing behind.

Chosen by ``app.state.SharedState``; the throttle's arithmetic is ``app.core.limits``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from app.core.errors import StoreError
from app.core.outage import Outage
from app.core.ports import SharedWrite
from app.state.client import quick_client

__all__ = ["MemoryInFlight", "RedisInFlight"]

log = logging.getLogger(__name__)

KEY_PREFIX = "squall:inflight:"
MAX_OWED = 100_000
"""Releases that could not be made while Redis was away are retried with the next one, up to this many (beyond,
the oldest are left to their deadlines)."""

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local count = redis.call('ZCARD', KEYS[1])
local allowed = tonumber(ARGV[3])
if ARGV[1] == '' or (allowed >= 0 and count >= allowed) then return count end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', tonumber(last[2]) + 1000))
return count
"""
"""KEYS[1] the namespace's set; ARGV: activation id ('' to count only), time to live in ms, allowed (-1: any).
Returns the count before the id was added."""


class RedisInFlight:
    """Implements ``InFlight`` over Redis, one round trip per call.

    Fails open, as the per-minute throttles do: while Redis cannot be reached, ``acquire`` raises ``StoreError``
    at once (one caller per probe interval tries Redis) and the invocation goes on uncounted. It cannot count in
    this process's memory meanwhile, as the per-minute counters do: activations end in the invokers, whose releases
    would never reach that count, which would then refuse everyone. The outage is logged once, not per request.
    """

    def __init__(self, url: str, prefix: str = "") -> None:
        self._redis = quick_client(url)
        self._prefix = prefix + KEY_PREFIX  # deployments sharing one Redis count apart
        self._outage = Outage("Redis (activations in flight; concurrentInvocations not enforced meanwhile)", log)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._lock = threading.Lock()
        self._owed: list[tuple[str, str]] = []

    def _key(self, namespace: str) -> str:
        return self._prefix + namespace

    def acquire(self, namespace: str, activation_id: str, ttl_ms: int, allowed: int | None) -> int:
        return self._run(namespace, activation_id, ttl_ms, -1 if allowed is None else allowed)

    def count(self, namespace: str) -> int:
        return self._run(namespace, "", 0, 0)

    def acquire_later(self, namespace: str, activation_id: str, ttl_ms: int, allowed: int | None) -> SharedWrite | None:
        if self._outage.skip():
            return None  # ``acquire`` then fails at once, as it does for every caller between an outage's probes
        # EVAL, not EVALSHA: whoever sends it need not know the script, and it still runs after Redis restarted
        # with an empty script cache (Redis caches it by its hash either way).
        return ("EVAL", _ACQUIRE, 1, self._key(namespace), activation_id, ttl_ms, -1 if allowed is None else allowed)

    def _run(self, namespace: str, activation_id: str, ttl_ms: int, allowed: int) -> int:
        if self._outage.skip():
            raise StoreError("activations in flight: Redis is unreachable")
        try:
            count = self._acquire(keys=[self._key(namespace)], args=[activation_id, ttl_ms, allowed])
        except redis.RedisError as e:
            self._outage.failed(e)
            raise StoreError(f"activations in flight: {e}") from e
        self._outage.succeeded()
        return int(count)

    def release(self, namespace: str, activation_id: str) -> None:
        """Remove the id, with any owed from an outage, in one pipeline; kept owed while Redis is away."""
        with self._lock:
            owed, self._owed = [*self._owed, (namespace, activation_id)], []
        if self._outage.skip():
            self._owe(owed)
            return
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for ns, aid in owed:
                    pipe.zrem(self._key(ns), aid)
                pipe.execute()
        except redis.RedisError as e:
            self._outage.failed(e)
            self._owe(owed)
            return
        self._outage.succeeded()
        if len(owed) > 1:
            log.info("released %d activations in flight that ended while Redis was unreachable", len(owed) - 1)

    def release_later(self, namespace: str, activation_id: str) -> SharedWrite | None:
        with self._lock:
            owing = bool(self._owed)
        if owing or self._outage.skip():  # catch up on what is owed (or owe this one too) the usual way
            self.release(namespace, activation_id)
            return None
        return ("ZREM", self._key(namespace), activation_id)

    def _owe(self, owed: list[tuple[str, str]]) -> None:
        with self._lock:
            self._owed = [*owed, *self._owed][-MAX_OWED:]

    def close(self) -> None:
        self._redis.close()


class MemoryInFlight:
    """``InFlight`` for one process (``squall standalone``, tests), with the same deadlines."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._deadlines: dict[str, dict[str, float]] = {}

    def _live(self, namespace: str, now: float) -> dict[str, float]:
        """The namespace's ids still in flight (called with the lock held)."""
        ids = {aid: until for aid, until in self._deadlines.get(namespace, {}).items() if until > now}
        if ids:
            self._deadlines[namespace] = ids
        else:
            self._deadlines.pop(namespace, None)
        return ids

    def acquire(self, namespace: str, activation_id: str, ttl_ms: int, allowed: int | None) -> int:
        now = self._clock()
        with self._lock:
            ids = self._live(namespace, now)
            count = len(ids)
            if allowed is None or count < allowed:
                ids[activation_id] = now + ttl_ms / 1000
                self._deadlines[namespace] = ids
            return count

    def count(self, namespace: str) -> int:
        with self._lock:
            return len(self._live(namespace, self._clock()))

    def release(self, namespace: str, activation_id: str) -> None:
        with self._lock:
            ids = self._deadlines.get(namespace)
            if ids is not None:
                ids.pop(activation_id, None)
                if not ids:
                    del self._deadlines[namespace]

    def release_later(self, namespace: str, activation_id: str) -> None:
        self.release(namespace, activation_id)

    def acquire_later(self, namespace: str, activation_id: str, ttl_ms: int, allowed: int | None) -> None:
        return None  # nothing to save: counted in this process

    def close(self) -> None:
        return None
