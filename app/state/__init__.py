"""State that every process of a deployment shares: throttle counters, the activations in flight, the entities'
revision index, the start journal, the composition step ledger and the invoker registry.

Each has a Redis form (several controllers and invokers agree) and an in-process form (one-process deployments:
``squall standalone``, tests). ``SharedState`` is the one place that chooses between them: Redis when the
deployment's result backend is Redis, else this process's memory. The Redis forms a controller uses on its request
path give up within about a second and degrade rather than fail the request (``app.state.client``).
"""

from __future__ import annotations

import logging

from app.core.ports import InFlight, InvokerRegistry, RateCounter, Revisions, StartJournal, StepLedger
from app.state.counters import MemoryCounters, RedisCounters
from app.state.inflight import MemoryInFlight, RedisInFlight
from app.state.journal import MemoryJournal, RedisJournal
from app.state.ledger import MemoryStepLedger, RedisStepLedger
from app.state.registry import MemoryInvokerRegistry, RedisInvokerRegistry
from app.state.revisions import RedisRevisions

__all__ = ["SharedState", "is_redis"]

log = logging.getLogger(__name__)


def is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://"))


class SharedState:
    """Builds the shared-state objects a process asks for, each over Redis at ``redis_url`` or, when that is
    None, in this process's memory. Building is cheap: Redis is not contacted until the first use."""

    def __init__(self, redis_url: str | None, deployment: str = "") -> None:
        self.redis_url = redis_url
        self._deployment = deployment  # keeps the counts of deployments that share one Redis apart

    @classmethod
    def for_backend(cls, result_backend: str, deployment: str = "") -> SharedState:
        """Shared through Redis when the result backend is Redis, else per process."""
        return cls(result_backend if is_redis(result_backend) else None, deployment)

    @property
    def shared(self) -> bool:
        """True when other processes see this state too."""
        return self.redis_url is not None

    def counters(self) -> RateCounter:
        if not self.redis_url:
            return MemoryCounters()
        return RedisCounters(self.redis_url, f"{self._deployment}:" if self._deployment else "")

    def inflight(self) -> InFlight:
        """The activations in flight. The in-process form is for one-process deployments only: where invokers run
        apart, their releases could not reach it (``app.controller.create_app`` then enforces nothing)."""
        if not self.redis_url:
            return MemoryInFlight()
        return RedisInFlight(self.redis_url, f"{self._deployment}:" if self._deployment else "")

    def journal(self) -> StartJournal:
        if self.redis_url:
            return RedisJournal(self.redis_url)
        # Claims in this process only: a redelivery to another invoker could run an action twice.
        log.warning("the start journal is per process (the result backend is not Redis)")
        return MemoryJournal()

    def ledger(self) -> StepLedger:
        return RedisStepLedger(self.redis_url) if self.redis_url else MemoryStepLedger()

    def revisions(self, ttl_s: int, prefix: str) -> Revisions | None:
        """The revision index, or None when it is not shared: a per-process index would let a cache miss
        another controller's update, so without Redis nothing is cached."""
        return RedisRevisions(self.redis_url, ttl_s, prefix=prefix) if self.redis_url else None

    def registry(self, prefix: str) -> InvokerRegistry:
        """The invoker registry; ``prefix`` keeps deployments that share one Redis apart."""
        return RedisInvokerRegistry(self.redis_url, prefix) if self.redis_url else MemoryInvokerRegistry()
