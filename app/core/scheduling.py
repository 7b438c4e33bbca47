"""Pure container-pool decisions, after OpenWhisk's ``ContainerPool.schedule``/``remove`` (the rules are below;
the pool as a whole is described in docs/runtimes.md#container-pool).

No I/O, no clocks, no threads: the pool shell (``workers.pool``) hands in a snapshot of its containers
and applies the decision it gets back. That keeps every rule here testable with plain data.

Rules of ``schedule``:
* a warm container of exactly the requested key with room for one more activation is reused: a busy
  one first when the action allows concurrent activations (packing them is the point), else the most
  recently used free one (so the others age out and get reaped);
* else a prewarmed stem cell of the request's kind and memory is taken (it only lacks ``/init``);
* else a new container starts if its memory fits beside every container the pool holds;
* else, while the head is patient, the request waits for a busy (or starting) container of its own key
  (``AwaitWarm``): one is back within a run, and evicting another key's idle container instead only moves
  the cold start to that key's next request, which evicts in turn (a saturated pool that does this
  thrashes: it starts containers all the time and the starts eat the CPU the runs need); unless stale
  containers (free and unused since ``Place.stale_before``, whose key is not waiting) make room: their keys
  are not part of the current load, so evicting them moves no cold start anywhere, while waiting would hold
  a busy action to the containers it had when memory ran out (a stream of one action behind the idle
  containers of earlier work never grew past them);
* else the least recently used free containers are evicted until it fits, a key's spare ones before
  any key's last, then stem cells (they are replenished once memory allows); while the head is patient,
  never a free container whose key has a request in the run buffer (that request takes it instead);
* else the request waits for a release; a request larger than the whole pool can never run.

The run buffer is first come, first served for memory: only its head takes a stem cell, starts or
evicts, so a large request is not starved by a stream of small ones. A request behind it may still reuse
a warm container of its key (no earlier request of that key waiting): that needs no memory, so it delays
nobody, and without it every request would queue behind a head waiting for its own container. These
exceptions (waiting for its own key, sparing waiting keys, reuses past the head) last only while the head
is patient, which the pool's shell bounds in time: past it, the buffer is strictly FIFO and the head
evicts any idle container, so the head is served at the latest when the next container is released.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum


class Slot(Enum):
    PREWARM = "prewarm"  # a started stem cell, not initialised; its key is a ``StemKey``
    FREE = "free"  # warm and idle: reusable for its key, evictable for anything else
    BUSY = "busy"  # running one activation or more; counts against memory, never evicted
    STARTING = "starting"  # being created: counts against memory, untouchable


@dataclass(frozen=True)
class StemKey:
    """What a stem cell can become: any action of ``kind`` with exactly ``memory_mb`` of memory."""

    kind: str
    memory_mb: int


@dataclass(frozen=True)
class ContainerView:
    """What scheduling needs to know of one pooled container."""

    id: str
    key: Hashable  # the warm key (invoking namespace, action doc id, revision), or a StemKey
    memory_mb: int
    slot: Slot
    last_used: float  # any monotonic clock; only compared
    active: int = 0  # activations running in it now
    concurrency: int = 1  # activations it may run at once (the action's limits.concurrency)
    warm: bool = True  # /init done: a busy container still initialising takes no second activation
    paused: bool = False


@dataclass(frozen=True)
class Request:
    key: Hashable
    memory_mb: int
    kind: str | None = None  # None: no stem cell can serve it (a blackbox image)
    concurrency: int = 1

    @property
    def stem_key(self) -> StemKey | None:
        return StemKey(self.kind, self.memory_mb) if self.kind is not None else None


@dataclass(frozen=True)
class Place:
    """A request's place in the run buffer, as scheduling needs it; ``Place()``: alone at its head."""

    ahead: tuple[Hashable, ...] = ()  # keys of the requests waiting before it, oldest first
    behind: tuple[Hashable, ...] = ()  # keys of those waiting after it
    patient: bool = True  # the head has waited less than the pool's warm wait (see the module's rules)
    stale_before: float = float("-inf")  # free containers last used before this (same clock) are stale

    @property
    def head(self) -> bool:
        return not self.ahead


_ALONE = Place()


@dataclass(frozen=True)
class Reuse:
    container_id: str


@dataclass(frozen=True)
class TakePrewarm:
    container_id: str


@dataclass(frozen=True)
class Start:
    """Start a new container; first evict (destroy) ``evict``, least recently used first."""

    evict: tuple[str, ...] = ()


@dataclass(frozen=True)
class Wait:
    """Nothing can be freed now, or the request is behind the head: wait for a release or for its turn."""


@dataclass(frozen=True)
class AwaitWarm:
    """Memory is short, but a busy container of the request's key will be free soon: wait for it."""


@dataclass(frozen=True)
class Impossible:
    """The request needs more memory than the whole pool has; waiting cannot help."""

    needed_mb: int
    capacity_mb: int


Decision = Reuse | TakePrewarm | Start | AwaitWarm | Wait | Impossible


def used_memory(containers: Sequence[ContainerView]) -> int:
    return sum(c.memory_mb for c in containers)


def schedule(containers: Sequence[ContainerView], request: Request, capacity_mb: int,
             place: Place = _ALONE) -> Decision:
    """Decide how to serve ``request``, waiting at ``place`` in the run buffer, given the pool's
    ``containers`` and its memory ``capacity_mb``."""
    warm = find_warm(containers, request.key)
    if warm is not None and (place.head or (place.patient and _room(containers, request.key) >
                             place.ahead.count(request.key))):
        return Reuse(warm)
    if not place.head:
        return Wait()
    stem_key = request.stem_key
    stem = [c for c in containers if c.slot is Slot.PREWARM and c.key == stem_key]
    if stem:
        return TakePrewarm(min(stem, key=lambda c: c.last_used).id)
    if request.memory_mb > capacity_mb:
        return Impossible(request.memory_mb, capacity_mb)
    free_mb = capacity_mb - used_memory(containers)
    if request.memory_mb <= free_mb:
        return Start()
    if place.patient and _coming_back(containers, request.key):
        waiting = set(place.behind)
        stale = [c for c in containers
                 if c.slot is Slot.FREE and c.last_used < place.stale_before and c.key not in waiting]
        evict = choose_evictions(stale, request.memory_mb - free_mb)
        return AwaitWarm() if evict is None else Start(evict)
    # Free containers whose key is waiting are left to those requests, unless the head waited too long.
    waited_for = set(place.behind) if place.patient else set()
    evict = choose_evictions([c for c in containers if c.key not in waited_for or c.slot is not Slot.FREE],
                             request.memory_mb - free_mb)
    return Start(evict) if evict is not None else Wait()


def find_warm(containers: Sequence[ContainerView], key: Hashable) -> str | None:
    """A warm container of ``key`` with room for one more activation, or None."""
    busy = [c for c in containers
            if c.slot is Slot.BUSY and c.key == key and c.warm and c.active < c.concurrency]
    if busy:
        return max(busy, key=lambda c: (c.active, c.last_used)).id
    free = [c for c in containers if c.slot is Slot.FREE and c.key == key]
    return max(free, key=lambda c: c.last_used).id if free else None


def _room(containers: Sequence[ContainerView], key: Hashable) -> int:
    """Activations the containers of ``key`` can take now (those ``find_warm`` would hand out)."""
    return sum(c.concurrency - c.active for c in containers
               if c.key == key and (c.slot is Slot.FREE or (c.slot is Slot.BUSY and c.warm)))


def _coming_back(containers: Sequence[ContainerView], key: Hashable) -> int:
    """Activations the busy and starting containers of ``key`` take once their current runs are over."""
    return sum(c.concurrency for c in containers if c.key == key and c.slot in (Slot.BUSY, Slot.STARTING))


def choose_evictions(containers: Sequence[ContainerView], needed_mb: int) -> tuple[str, ...] | None:
    """Free containers, then stem cells, whose memory adds up to ``needed_mb``; None if all of them together
    are not enough (then evicting any would only cost warm containers for nothing).

    Least recently used first, but a key's spare container (another of its key stays) before any key's last
    one: a key left with none makes its next request evict in turn, and in a pool that holds about one
    container per busy key that chain never ends."""
    candidates = [c for c in containers if c.slot in (Slot.FREE, Slot.PREWARM)]
    left = Counter(c.key for c in containers)
    chosen: list[str] = []
    freed = 0
    while freed < needed_mb and candidates:
        victim = min(candidates, key=lambda c: (c.slot is Slot.PREWARM, left[c.key] <= 1, c.last_used))
        candidates.remove(victim)
        left[victim.key] -= 1
        chosen.append(victim.id)
        freed += victim.memory_mb
    return tuple(chosen) if freed >= needed_mb else None


def stem_cells_to_start(containers: Sequence[ContainerView], wanted: Mapping[StemKey, int], capacity_mb: int,
                        waiting: bool) -> list[StemKey]:
    """Stem cells to start now so each ``StemKey`` reaches its wanted count (prewarmed plus starting).

    Only into memory nobody needs: never while requests wait for memory, never by evicting.
    """
    if waiting:
        return []
    free_mb = capacity_mb - used_memory(containers)
    out: list[StemKey] = []
    for key, count in wanted.items():
        have = sum(1 for c in containers if c.key == key and c.slot in (Slot.PREWARM, Slot.STARTING))
        for _ in range(count - have):
            if key.memory_mb > free_mb:
                return out
            out.append(key)
            free_mb -= key.memory_mb
    return out


def to_pause(containers: Sequence[ContainerView], now: float, grace: float) -> list[str]:
    """Free containers running idle for at least ``grace`` (same clock as ``last_used``)."""
    return [c.id for c in containers if c.slot is Slot.FREE and not c.paused and now - c.last_used >= grace]


def expired(containers: Sequence[ContainerView], now: float, idle_timeout: float) -> list[str]:
    """Free containers idle for at least ``idle_timeout`` (same clock as ``last_used``)."""
    return [c.id for c in containers if c.slot is Slot.FREE and now - c.last_used >= idle_timeout]
