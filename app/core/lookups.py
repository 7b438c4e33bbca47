"""``LookupCache``: values read from the store now and then (an API key's identity, a namespace's limits) that
outlive a store outage for a bounded time.

A value is trusted for ``fresh_s`` after it was read. When the next read fails because the store cannot be
reached (``StoreUnavailable``), the last value read is served instead, for up to ``stale_s`` after it was read:
a controller whose store is down for a minute goes on serving the callers it knows rather than answering every
request 503. Anything the store does answer wins at once: a new value replaces the kept one, and ``NotFound``
(a revoked key) or any other error drops it, so a value the store denied is never served again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from app.core.errors import StoreUnavailable

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class _Entry(Generic[V]):
    value: V
    read_at: float  # when the store last gave this value
    fresh_until: float  # the store is not asked again before this


class LookupCache(Generic[K, V]):
    """Thread-safe; ``stale_s`` 0 serves nothing stale (a failed read raises, as without a cache)."""

    def __init__(self, fresh_s: float, stale_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._fresh_s = fresh_s
        self._stale_s = stale_s
        self._clock = clock
        self._entries: dict[K, _Entry[V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K, read: Callable[[], V]) -> V:
        """The value of ``key``: kept while fresh, else ``read()``; kept but stale while ``read()`` raises
        ``StoreUnavailable`` (raised when there is none, or it is older than ``stale_s``)."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry.fresh_until > now:
            return entry.value
        try:
            value = read()
        except StoreUnavailable:
            if entry is None or now - entry.read_at > self._stale_s:
                raise
            # Ask the dead store again only after another fresh_s: not on every request meanwhile.
            self._put(key, _Entry(entry.value, entry.read_at, now + self._fresh_s))
            return entry.value
        except BaseException:
            self.forget(key)
            raise
        self._put(key, _Entry(value, now, now + self._fresh_s))
        return value

    def forget(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _put(self, key: K, entry: _Entry[V]) -> None:
        with self._lock:
            self._entries[key] = entry
