"""The container pool: the thread-safe, stateful shell around ``app.core.scheduling``.

Decisions come from the pure ``schedule``; this module holds the state (which containers are free,
busy or starting), applies decisions under one lock, and does the slow work (docker create/remove)
outside it. Warm containers are kept per key (invoking namespace, action doc id, revision), memory
is bounded by ``invoker.user_memory_mb``, and idle ones are removed after ``idle_timeout_s``.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from app.core.errors import ContainerError
from app.core.scheduling import ContainerView, Impossible, Request, Reuse, Slot, Start, expired, schedule
from config.settings import InvokerSettings
from workers.factories.base import Container, ContainerFactory, ContainerSpec
from workers.logs import LogCursor
from workers.proxy_client import ProxyClient

log = logging.getLogger(__name__)

DEFAULT_WAIT_S = 120.0


class PoolExhausted(ContainerError):
    """No memory became free for the container within the wait (or the action is larger than the pool)."""


class PoolClosed(ContainerError):
    """The pool is shutting down."""


@dataclass(eq=False)
class PooledContainer:
    """A container with what the invoker keeps per container: its proxy connection and log cursor."""

    container: Container
    key: Hashable
    proxy: ProxyClient
    cursor: LogCursor = field(default_factory=LogCursor)
    initialized: bool = False  # /init succeeded: warm
    last_used: float = 0.0

    @property
    def id(self) -> str:
        return self.container.id

    @property
    def memory_mb(self) -> int:
        return self.container.memory_mb


@dataclass(frozen=True)
class _Starting:
    key: Hashable
    memory_mb: int


class ContainerPool:
    """Hands out containers for keys; one activation holds a container between ``acquire`` and ``release``."""

    def __init__(self, factory: ContainerFactory, settings: InvokerSettings, *,
                 wait_timeout_s: float = DEFAULT_WAIT_S, clock: Callable[[], float] = time.monotonic,
                 reap_interval_s: float | None = None) -> None:
        self._factory = factory
        self._capacity_mb = settings.user_memory_mb
        self._idle_timeout_s = settings.idle_timeout_s
        self._wait_timeout_s = wait_timeout_s
        self._clock = clock
        self._cond = threading.Condition()
        self._free: dict[str, PooledContainer] = {}
        self._busy: dict[str, PooledContainer] = {}
        self._starting: dict[str, _Starting] = {}
        self._tokens = itertools.count(1)
        self._closed = False
        self._stop = threading.Event()
        interval = reap_interval_s if reap_interval_s is not None else min(max(self._idle_timeout_s / 4, 0.05), 30.0)
        self._reaper = threading.Thread(target=self._reap_loop, args=(interval,), name="squall-pool-reaper",
                                        daemon=True)
        self._reaper.start()

    # --- the two calls the invoker makes ---------------------------------------------------------

    def acquire(self, key: Hashable, spec: ContainerSpec, timeout_s: float | None = None) -> PooledContainer:
        """A warm container for ``key``, else a new one (evicting idle ones if memory is short), else wait
        for a release. Raises ``PoolExhausted`` after ``timeout_s``, ``ContainerStartupError`` if a new
        container cannot be started, ``PoolClosed`` once closed."""
        # Waits run on real time; the injectable clock only ages idle containers.
        deadline = time.monotonic() + (self._wait_timeout_s if timeout_s is None else timeout_s)
        request = Request(key, spec.memory_mb)
        with self._cond:
            while True:
                if self._closed:
                    raise PoolClosed()
                decision = schedule(self._views(), request, self._capacity_mb)
                if isinstance(decision, Reuse):
                    pooled = self._free.pop(decision.container_id)
                    self._busy[pooled.id] = pooled
                    return pooled
                if isinstance(decision, Start):
                    evicted = [self._free.pop(cid) for cid in decision.evict]
                    token = f"starting-{next(self._tokens)}"
                    self._starting[token] = _Starting(key, spec.memory_mb)
                    break
                if isinstance(decision, Impossible):
                    raise PoolExhausted(f"The action needs {decision.needed_mb} MB but this invoker has "
                                        f"{decision.capacity_mb} MB for containers.")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PoolExhausted("No container memory became free in time.")
                self._cond.wait(remaining)
        # Slow work outside the lock; the reservation keeps the memory counted meanwhile.
        for old in evicted:
            self._destroy(old)
        try:
            container = self._factory.create(spec)
        except BaseException:
            with self._cond:
                del self._starting[token]
                self._cond.notify_all()
            raise
        pooled = PooledContainer(container, key, ProxyClient(container.host, container.port))
        with self._cond:
            del self._starting[token]
            closed = self._closed
            if not closed:
                self._busy[pooled.id] = pooled
        if closed:
            self._destroy(pooled)
            raise PoolClosed()
        return pooled

    def release(self, pooled: PooledContainer, reusable: bool) -> None:
        """Give the container back: kept warm if ``reusable``, else destroyed (after a developer error,
        a whisk error or a timeout its state is unknown)."""
        if reusable:
            with self._cond:
                if self._busy.pop(pooled.id, None) is not None and not self._closed:
                    pooled.last_used = self._clock()
                    self._free[pooled.id] = pooled
                    self._cond.notify_all()
                    return
        self._destroy(pooled)
        with self._cond:
            self._busy.pop(pooled.id, None)
            self._cond.notify_all()

    # --- housekeeping ----------------------------------------------------------------------------

    def reap(self) -> int:
        """Destroy free containers idle for ``idle_timeout_s``; returns how many."""
        with self._cond:
            ids = expired(self._views(), self._clock(), self._idle_timeout_s)
            victims = [self._free.pop(cid) for cid in ids]
        for pooled in victims:
            self._destroy(pooled)
        if victims:
            with self._cond:
                self._cond.notify_all()
        return len(victims)

    def close(self) -> None:
        """Stop the reaper and destroy every container, free or busy; waiting acquires fail. Then close the
        factory (its own resources: a Docker client, the process factory's cgroups)."""
        with self._cond:
            self._closed = True
            victims = [*self._free.values(), *self._busy.values()]
            self._free.clear()
            self._busy.clear()
            self._cond.notify_all()
        self._stop.set()
        if self._reaper is not threading.current_thread():
            self._reaper.join()
        for pooled in victims:
            self._destroy(pooled)
        self._factory.close()

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {"free": len(self._free), "busy": len(self._busy), "starting": len(self._starting),
                    "used_mb": sum(v.memory_mb for v in self._views()), "capacity_mb": self._capacity_mb}

    # --- internals -------------------------------------------------------------------------------

    def _views(self) -> list[ContainerView]:
        views = [ContainerView(p.id, p.key, p.memory_mb, Slot.FREE, p.last_used) for p in self._free.values()]
        views += [ContainerView(p.id, p.key, p.memory_mb, Slot.BUSY, p.last_used) for p in self._busy.values()]
        views += [ContainerView(t, s.key, s.memory_mb, Slot.BUSY, 0.0) for t, s in self._starting.items()]
        return views

    def _destroy(self, pooled: PooledContainer) -> None:
        pooled.proxy.close()
        pooled.container.destroy()

    def _reap_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.reap()
            except Exception:  # the reaper must outlive one failed removal
                log.exception("reaping idle containers failed")
