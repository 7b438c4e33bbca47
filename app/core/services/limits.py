"""Reading and setting a namespace's throttles; cached briefly, like identities, so a check costs no I/O."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from app.core.limits import NamespaceLimits, parse_overrides
from app.core.lookups import LookupCache
from app.core.ports import SubjectStore


class LimitsService:
    def __init__(self, subjects: SubjectStore, defaults: NamespaceLimits, cache_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, stale_seconds: float = 0.0) -> None:
        self._subjects = subjects
        self.defaults = defaults
        # While the store cannot be reached, the last limits read are kept for up to stale_seconds, as identities.
        self._cache: LookupCache[str, NamespaceLimits] = LookupCache(cache_seconds, stale_seconds, clock)

    def of(self, namespace: str) -> NamespaceLimits:
        """The limits in force for ``namespace`` (an operator's change reaches every controller within the cache
        time, as a blocked key does)."""
        return self._cache.get(namespace, lambda: self.defaults.overridden(self._subjects.get_limits(namespace)))

    def overrides(self, namespace: str) -> dict[str, int]:
        return dict(self._subjects.get_limits(namespace))

    def set(self, namespace: str, given: dict[str, Any]) -> NamespaceLimits:
        """Store ``given`` as the namespace's overrides (replacing earlier ones); raises ``Invalid``."""
        self._subjects.put_limits(namespace, parse_overrides(given))
        self._cache.forget(namespace)
        return self.of(namespace)
