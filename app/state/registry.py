"""The invoker registry: invokers announce themselves here every second or so, controllers read who is alive and
reserve room on an invoker before placing work on it (``app.core.placement``).

Redis form: each invoker's report is a key with a time to live (silent past it = out of placement), names stay in
a set (so an invoker that fell silent is known as departed and its queue handed off), and reservations are a
hash per invoker changed by Lua scripts, atomic across every controller. Keys carry the deployment's prefix so
deployments sharing one Redis never see each other's invokers.

Controllers read and reserve here on the request path, so every command gives up within a second, and while
Redis is away all but one call per probe interval fail at once (``app.state.client``); the outage is logged once
per process. Callers degrade on ``StoreError``: placement goes on over the last known invokers, unreserved.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
import redis.exceptions

from app.core.errors import StoreError
from app.core.outage import Outage
from app.core.ports import NOT_SENT, SharedWrite
from app.state.client import quick_client

log = logging.getLogger(__name__)

WINDOW_S = 60
TIMEOUT_S = 1.0
"""Socket timeouts: longer than a request-path client's, as invokers announce here too, but still short."""

_RESERVE = """
local mb = tonumber(redis.call('HGET', KEYS[1], 'mb') or '0')
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if mb + tonumber(ARGV[1]) > tonumber(ARGV[2]) or n + 1 > tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'mb', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 180)
return 1
"""

_LEAVE = """
local report = redis.call('GET', KEYS[1])
if not report then return 0 end
if ARGV[1] ~= '' then
  local ok, decoded = pcall(cjson.decode, report)
  if not ok or decoded['owner'] ~= ARGV[1] then return 0 end
end
return redis.call('DEL', KEYS[1])
"""
"""Delete an invoker's report, only if announced by ``ARGV[1]`` when that is set (``InvokerRegistry.leave``)."""

_RELEASE = """
local mb = tonumber(redis.call('HGET', KEYS[1], 'mb') or '0') - tonumber(ARGV[1])
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0') - 1
if mb < 0 then mb = 0 end
if n < 0 then n = 0 end
redis.call('HSET', KEYS[1], 'mb', mb, 'n', n)
return 1
"""


def _minute(now_s: float) -> int:
    return int(now_s // WINDOW_S)


class RedisInvokerRegistry:
    """Implements ``app.core.ports.InvokerRegistry`` over Redis."""

    def __init__(self, url: str, prefix: str, clock: Callable[[], float] = time.time) -> None:
        self._redis = quick_client(url, TIMEOUT_S)
        self._p = prefix
        self._clock = clock
        self._outage = Outage("Redis (invoker registry)", log)
        self._reserve = self._redis.register_script(_RESERVE)
        self._release = self._redis.register_script(_RELEASE)
        self._leave = self._redis.register_script(_LEAVE)

    @contextlib.contextmanager
    def _translated(self, what: str, *, always: bool = False) -> Iterator[None]:
        """Redis errors as ``StoreError`` saying ``what`` could not be done; at once between an outage's probes
        unless ``always``."""
        if not always and self._outage.skip():
            raise StoreError(f"{what}: Redis is unreachable")
        try:
            yield
        except redis.exceptions.RedisError as e:
            self._outage.failed(e)
            raise StoreError(f"{what}: {e}") from e
        self._outage.succeeded()

    def _key(self, *parts: str) -> str:
        return self._p + ":".join(parts)

    def announce(self, report: dict[str, Any], ttl_s: float) -> None:
        name = str(report["name"])
        with self._translated(f"cannot announce invoker {name}"), self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._key("invoker", name), json.dumps(report, separators=(",", ":")),
                     px=int(ttl_s * 1000))
            pipe.sadd(self._key("invokers"), name)
            pipe.execute()

    def leave(self, name: str, owner: str = "") -> None:
        with self._translated(f"cannot deregister invoker {name}", always=True):  # once, on the way out
            self._leave(keys=[self._key("invoker", name)], args=[owner])

    def _names(self) -> list[str]:
        return sorted(n.decode() for n in self._redis.smembers(self._key("invokers")))  # type: ignore[union-attr]

    def _snapshot(self) -> list[tuple[str, Any]]:
        """Every registered name with its live report (None once it expired)."""
        with self._translated("cannot read the invoker registry"):
            names = self._names()
            values = self._redis.mget([self._key("invoker", n) for n in names]) if names else []
        return list(zip(names, values, strict=True))

    def reports(self) -> dict[str, dict[str, Any]]:
        return {name: json.loads(value) for name, value in self._snapshot() if value is not None}

    def departed(self) -> list[str]:
        return [name for name, value in self._snapshot() if value is None]

    def forget(self, name: str) -> None:
        with self._translated(f"cannot forget invoker {name}"):
            self._redis.srem(self._key("invokers"), name)
            self._redis.delete(self._key("reserved", name))

    def reset(self, name: str) -> None:
        with self._translated(f"cannot reset invoker {name}"):
            self._redis.delete(self._key("reserved", name))

    def reserve(self, name: str, memory_mb: int, capacity_mb: int, threads: int) -> bool:
        minute = str(_minute(self._clock()))
        with self._translated(f"cannot reserve room on invoker {name}"):
            return bool(self._reserve(keys=[self._key("reserved", name), self._key("placed", name, minute)],
                                      args=[memory_mb, capacity_mb, threads]))

    def reserve_after(self, ahead: tuple[SharedWrite, ...], name: str, memory_mb: int, capacity_mb: int,
                      threads: int) -> tuple[object, bool]:
        minute = str(_minute(self._clock()))
        with self._translated(f"cannot reserve room on invoker {name}"), \
                self._redis.pipeline(transaction=False) as pipe:
            for command in ahead:
                pipe.execute_command(*command)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
            # EVAL, not the registered script: a script in a pipeline costs redis-py a round trip to check it is
            # loaded, the round trip this saves.
            pipe.execute_command(  # type: ignore[no-untyped-call]
                "EVAL", _RESERVE, 2, self._key("reserved", name), self._key("placed", name, minute), memory_mb,
                capacity_mb, threads)
            *replies, reserved = pipe.execute(raise_on_error=False)
        if isinstance(reserved, Exception):  # an error Redis answered with (the round trip itself went through)
            raise StoreError(f"cannot reserve room on invoker {name}: {reserved}")
        return replies, bool(reserved)

    def placed(self, name: str) -> None:
        key = self._key("placed", name, str(_minute(self._clock())))
        with self._translated(f"cannot count a placement on {name}"), self._redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, 180)
            pipe.execute()

    def release(self, name: str, memory_mb: int) -> None:
        with self._translated(f"cannot release room on invoker {name}"):
            self._release(keys=[self._key("reserved", name)], args=[memory_mb])

    def placements(self, name: str) -> int:
        key = self._key("placed", name, str(_minute(self._clock()) - 1))
        with self._translated(f"cannot read placements of {name}"):
            value = self._redis.get(key)
        return int(value) if value is not None else 0

    def claim_handoff(self, name: str, holder: str, ttl_s: float) -> bool:
        key = self._key("handoff", name)
        with self._translated(f"cannot claim the hand-off of {name}"):
            if self._redis.set(key, holder, nx=True, px=int(ttl_s * 1000)):
                return True
            current = self._redis.get(key)
            if current is not None and current.decode() == holder:  # type: ignore[union-attr]
                self._redis.pexpire(key, int(ttl_s * 1000))
                return True
            return False

    def close(self) -> None:
        self._redis.close()


class MemoryInvokerRegistry:
    """The registry in this process: for one-process deployments and tests."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._reports: dict[str, tuple[float, dict[str, Any]]] = {}
        self._names: set[str] = set()
        self._reserved: dict[str, tuple[int, int]] = {}
        self._placed: dict[tuple[str, int], int] = {}
        self._handoffs: dict[str, tuple[str, float]] = {}

    def announce(self, report: dict[str, Any], ttl_s: float) -> None:
        with self._lock:
            name = str(report["name"])
            self._reports[name] = (self._clock() + ttl_s, dict(report))
            self._names.add(name)

    def leave(self, name: str, owner: str = "") -> None:
        with self._lock:
            live = self._reports.get(name)
            if live is not None and (not owner or live[1].get("owner") == owner):
                del self._reports[name]

    def reports(self) -> dict[str, dict[str, Any]]:
        now = self._clock()
        with self._lock:
            return {name: dict(report) for name, (until, report) in sorted(self._reports.items()) if until > now}

    def departed(self) -> list[str]:
        alive = self.reports()
        with self._lock:
            return sorted(name for name in self._names if name not in alive)

    def forget(self, name: str) -> None:
        with self._lock:
            self._names.discard(name)
            self._reserved.pop(name, None)

    def reset(self, name: str) -> None:
        with self._lock:
            self._reserved.pop(name, None)

    def reserve(self, name: str, memory_mb: int, capacity_mb: int, threads: int) -> bool:
        with self._lock:
            mb, n = self._reserved.get(name, (0, 0))
            if mb + memory_mb > capacity_mb or n + 1 > threads:
                return False
            self._reserved[name] = (mb + memory_mb, n + 1)
            self._count(name)
            return True

    def reserve_after(self, ahead: tuple[SharedWrite, ...], name: str, memory_mb: int, capacity_mb: int,
                      threads: int) -> tuple[object, bool]:
        return NOT_SENT, self.reserve(name, memory_mb, capacity_mb, threads)  # in-process: there is no round trip

    def placed(self, name: str) -> None:
        with self._lock:
            self._count(name)

    def _count(self, name: str) -> None:
        key = (name, _minute(self._clock()))
        self._placed[key] = self._placed.get(key, 0) + 1

    def release(self, name: str, memory_mb: int) -> None:
        with self._lock:
            mb, n = self._reserved.get(name, (0, 0))
            self._reserved[name] = (max(mb - memory_mb, 0), max(n - 1, 0))

    def reserved(self, name: str) -> tuple[int, int]:
        """(memory in MB, activations) reserved on ``name`` (for tests)."""
        with self._lock:
            return self._reserved.get(name, (0, 0))

    def placements(self, name: str) -> int:
        with self._lock:
            return self._placed.get((name, _minute(self._clock()) - 1), 0)

    def claim_handoff(self, name: str, holder: str, ttl_s: float) -> bool:
        now = self._clock()
        with self._lock:
            current = self._handoffs.get(name)
            if current is None or current[1] <= now or current[0] == holder:
                self._handoffs[name] = (holder, now + ttl_s)
                return True
            return False

    def close(self) -> None:
        return None
