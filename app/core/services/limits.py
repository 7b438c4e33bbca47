"""Reading and setting a namespace's throttles; cached briefly, like identities, so a check costs no I/O."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from app.core.limits import NamespaceLimits, parse_overrides
from app.core.ports import SubjectStore


class LimitsService:
    def __init__(self, subjects: SubjectStore, defaults: NamespaceLimits, cache_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._subjects = subjects
        self.defaults = defaults
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, NamespaceLimits]] = {}
        self._lock = threading.Lock()

    def of(self, namespace: str) -> NamespaceLimits:
        """The limits in force for ``namespace`` (an operator's change reaches every controller within the cache
        time, as a blocked key does)."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(namespace)
        if cached is not None and cached[0] > now:
            return cached[1]
        limits = self.defaults.overridden(self._subjects.get_limits(namespace))
        with self._lock:
            self._cache[namespace] = (now + self._cache_seconds, limits)
        return limits

    def overrides(self, namespace: str) -> dict[str, int]:
        return dict(self._subjects.get_limits(namespace))

    def set(self, namespace: str, given: dict[str, Any]) -> NamespaceLimits:
        """Store ``given`` as the namespace's overrides (replacing earlier ones); raises ``Invalid``."""
        self._subjects.put_limits(namespace, parse_overrides(given))
        with self._lock:
            self._cache.pop(namespace, None)
        return self.of(namespace)
