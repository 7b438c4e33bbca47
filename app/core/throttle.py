"""Per-namespace rate throttles in fixed one-minute windows, as OpenWhisk's ``RateThrottler`` counts them.

The decision is pure (``window_key``, ``check_rate``); the counting goes through the ``RateCounter`` port so
several controllers share one count (Redis) or, in one process, an in-memory counter does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from app.core.errors import Throttled

WINDOW_MS = 60_000


def window_key(kind: str, namespace: str, now_ms: int) -> str:
    """The counter for ``namespace``'s ``kind`` (e.g. ``fires``) in the minute holding ``now_ms``."""
    return f"squall:throttle:{kind}:{namespace}:{now_ms // WINDOW_MS}"


def check_rate(count: int, allowed: int) -> None:
    """``count`` includes the current request; it passes while ``count <= allowed``."""
    if count > allowed:
        raise Throttled(f"Too many requests in the last minute (count: {count}, allowed: {allowed}).")


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
