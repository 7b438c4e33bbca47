"""Pure container-pool decisions (OpenWhisk ``ContainerPool.schedule``/``remove``; reference §6.2).

No I/O, no clocks, no threads: the pool shell (``workers.pool``) hands in a snapshot of its containers
and applies the decision it gets back. That keeps every rule here testable with plain data.

Rules:
* a free container warmed for exactly the requested key is reused (most recently used first, so the
  others age out and get reaped);
* else a new container starts if its memory fits beside every free, busy and starting container;
* else the least recently used free containers are evicted until it fits;
* else the request waits for a release; a request larger than the whole pool can never run.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from enum import Enum


class Slot(Enum):
    FREE = "free"  # warm and idle: reusable for its key, evictable for anything else
    BUSY = "busy"  # running an activation, or still starting: counts against memory, untouchable


@dataclass(frozen=True)
class ContainerView:
    """What scheduling needs to know of one pooled container."""

    id: str
    key: Hashable  # the warm key: (invoking namespace, action doc id, revision) in the invoker
    memory_mb: int
    slot: Slot
    last_used: float  # any monotonic clock; only compared


@dataclass(frozen=True)
class Request:
    key: Hashable
    memory_mb: int


@dataclass(frozen=True)
class Reuse:
    container_id: str


@dataclass(frozen=True)
class Start:
    """Start a new container; first evict (destroy) ``evict``, least recently used first."""

    evict: tuple[str, ...] = ()


@dataclass(frozen=True)
class Wait:
    """Nothing can be freed now: wait for a busy container to be released."""


@dataclass(frozen=True)
class Impossible:
    """The request needs more memory than the whole pool has; waiting cannot help."""

    needed_mb: int
    capacity_mb: int


Decision = Reuse | Start | Wait | Impossible


def used_memory(containers: Sequence[ContainerView]) -> int:
    return sum(c.memory_mb for c in containers)


def schedule(containers: Sequence[ContainerView], request: Request, capacity_mb: int) -> Decision:
    """Decide how to serve ``request`` given the pool's ``containers`` and its memory ``capacity_mb``."""
    warm = [c for c in containers if c.slot is Slot.FREE and c.key == request.key]
    if warm:
        return Reuse(max(warm, key=lambda c: c.last_used).id)
    if request.memory_mb > capacity_mb:
        return Impossible(request.memory_mb, capacity_mb)
    free_mb = capacity_mb - used_memory(containers)
    if request.memory_mb <= free_mb:
        return Start()
    evict = choose_evictions(containers, request.memory_mb - free_mb)
    return Start(evict) if evict is not None else Wait()


def choose_evictions(containers: Sequence[ContainerView], needed_mb: int) -> tuple[str, ...] | None:
    """The least recently used free containers whose memory adds up to ``needed_mb``; None if all of
    them together are not enough (then evicting any would only cost warm containers for nothing)."""
    chosen: list[str] = []
    freed = 0
    for container in sorted((c for c in containers if c.slot is Slot.FREE), key=lambda c: c.last_used):
        if freed >= needed_mb:
            break
        chosen.append(container.id)
        freed += container.memory_mb
    return tuple(chosen) if freed >= needed_mb else None


def expired(containers: Sequence[ContainerView], now: float, idle_timeout: float) -> list[str]:
    """Free containers idle for at least ``idle_timeout`` (same clock as ``last_used``)."""
    return [c.id for c in containers if c.slot is Slot.FREE and now - c.last_used >= idle_timeout]
