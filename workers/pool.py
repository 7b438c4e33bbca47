"""The container pool: the thread-safe, stateful shell around ``app.core.scheduling``.

Decisions come from the pure functions there; this module holds the state (every container with its
slot), applies decisions under one lock, and does the slow work (docker create, remove, pause,
unpause) outside it. Warm containers are kept per key (invoking namespace, action doc id, revision);
memory is bounded by ``invoker.user_memory_mb``; requests that find no memory wait in a FIFO run buffer
for at most their action's timeout. While its head is patient (see ``WARM_WAIT_S``) it waits for a busy
container of its own action rather than evicting another action's idle one, and the requests behind it may
reuse warm containers of theirs (the rules are ``app.core.scheduling``'s). One housekeeping thread starts
the manifest's stem cells (at start and whenever one was taken), pauses idle containers when the idle
policy says so, and removes containers idle for ``idle_timeout_s``.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from app.core.errors import ContainerError
from app.core.scheduling import (
    AwaitWarm,
    ContainerView,
    Impossible,
    Place,
    Request,
    Reuse,
    Slot,
    Start,
    StemKey,
    TakePrewarm,
    Wait,
    expired,
    schedule,
    stem_cells_to_start,
    to_pause,
)
from config.settings import InvokerSettings
from workers.factories.base import Container, ContainerFactory, ContainerSpec
from workers.logs import LogCursor
from workers.proxy_client import ProxyClient

log = logging.getLogger(__name__)

DEFAULT_WAIT_S = 120.0
# How long the head of the run buffer may hold out for warm containers (its action's busy ones, or those
# of actions waiting behind it) before it evicts whatever is idle: twice what starting a container takes
# now (the cold start it would cost, and the one its victim's next request would), at least this much.
# Starts take 0.35 s on an idle 2-core host and several seconds when it is loaded; so do runs.
WARM_WAIT_S = 0.5
STALE_S = 5.0
"""A free container unused this long is not part of the current load: a run short of memory evicts it rather
than waiting for a busy container of its own action (``app.core.scheduling``, "stale")."""
_START_WEIGHT = 0.3  # of the latest container start in the running average of start times
IDLE_PAUSE = "pause"
IDLE_RUNNING = "running"
_STEM_CONNECT_S = 1.0  # a stem cell's proxy listens already (its factory waited for it); else /init connects
_STEM_RETRY_S = 5.0  # after a stem cell failed to start (image missing, engine down): do not spin


class PoolExhausted(ContainerError):
    """No memory became free for the container within the wait (or the action is larger than the pool)."""


class BufferTimeout(PoolExhausted):
    """A run waited in the run buffer for as long as its action may run, and never got memory."""

    def __init__(self, waited_ms: int) -> None:
        self.waited_ms = waited_ms
        super().__init__("Failed to provision resources to run the action: no container memory became free "
                         f"within the action's time limit of {waited_ms} milliseconds.")


class PoolClosed(ContainerError):
    """The pool is shutting down."""


@dataclass(frozen=True)
class StemCellSpec:
    """``count`` prewarmed containers of ``spec`` (its kind and memory) to keep ready."""

    spec: ContainerSpec
    count: int

    @property
    def key(self) -> StemKey:
        return StemKey(self.spec.kind, self.spec.memory_mb)


@dataclass(eq=False)
class PooledContainer:
    """A container with what the invoker keeps per container: its log cursor and warm state."""

    container: Container
    key: Hashable
    slot: Slot
    concurrency: int = 1
    cursor: LogCursor = field(default_factory=LogCursor)
    initialized: bool = False  # /init succeeded: warm
    last_used: float = 0.0
    active: int = 0
    paused: bool = False  # wanted state, changed under the pool's lock
    doomed: bool = False  # destroy once the last activation in it is done
    frozen: bool = False  # actual engine state, changed under ``engine_lock``
    engine_lock: threading.Lock = field(default_factory=threading.Lock)
    init_lock: threading.Lock = field(default_factory=threading.Lock)
    # Held while an activation's logs are read: the next activation may already run in the container, but
    # reads its logs (from the advanced cursor) only after, and the container is not destroyed meanwhile.
    # Re-entrant: a release inside it that destroys the container (a closing pool) must not wait on itself.
    log_lock: threading.RLock = field(default_factory=threading.RLock)
    _proxies: list[ProxyClient] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.container.id

    @property
    def memory_mb(self) -> int:
        return self.container.memory_mb

    def view(self) -> ContainerView:
        # A doomed container still holds its memory but takes no further activation.
        return ContainerView(self.id, self.key, self.memory_mb, self.slot, self.last_used, self.active,
                             self.concurrency, self.initialized and not self.doomed, self.paused)


@dataclass(eq=False)
class Lease:
    """One activation's hold on a container, with a proxy connection of its own."""

    pooled: PooledContainer
    proxy: ProxyClient
    from_prewarm: bool = False

    @property
    def container(self) -> Container:
        return self.pooled.container

    @property
    def initialized(self) -> bool:
        return self.pooled.initialized


@dataclass(eq=False)
class _Waiting:
    """A request in the run buffer (compared by identity: two waiting requests may have the same key)."""

    key: Hashable


@dataclass(frozen=True)
class _Starting:
    key: Hashable
    memory_mb: int


class ContainerPool:
    """Hands out containers for keys; an activation holds a ``Lease`` between ``acquire`` and ``release``."""

    def __init__(self, factory: ContainerFactory, settings: InvokerSettings, *,
                 stem_cells: Sequence[StemCellSpec] = (), wait_timeout_s: float = DEFAULT_WAIT_S,
                 warm_wait_s: float = WARM_WAIT_S, clock: Callable[[], float] = time.monotonic,
                 reap_interval_s: float | None = None) -> None:
        self._factory = factory
        self._capacity_mb = settings.user_memory_mb
        self._idle_timeout_s = settings.idle_timeout_s
        self._pause_grace_s = settings.pause_grace_s if settings.idle_policy == IDLE_PAUSE else None
        self._wait_timeout_s = wait_timeout_s
        self._warm_wait_s = warm_wait_s
        self._clock = clock
        self._stem_cells = {cell.key: cell for cell in stem_cells if cell.count > 0}
        self._cond = threading.Condition()
        self._containers: dict[str, PooledContainer] = {}
        self._starting: dict[str, _Starting] = {}
        self._queue: collections.deque[_Waiting] = collections.deque()  # the run buffer, oldest first
        self._head: _Waiting | None = None
        self._head_since = 0.0  # when the head became the head (real time, like the waits)
        self._start_s = 0.0  # a running average of how long a container takes to start
        self._tokens = itertools.count(1)
        self._closed = False
        self._reaped = 0  # containers removed for idling, since start
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._wake.set()  # start the stem cells at once
        limits = [self._idle_timeout_s / 4] + ([self._pause_grace_s / 2] if self._pause_grace_s is not None else [])
        interval = reap_interval_s if reap_interval_s is not None else min(max(min(limits), 0.05), 30.0)
        self._housekeeper = threading.Thread(target=self._housekeeping, args=(interval,),
                                             name="squall-pool-housekeeper", daemon=True)
        self._housekeeper.start()

    # --- the two calls the invoker makes ---------------------------------------------------------

    def acquire(self, key: Hashable, spec: ContainerSpec, timeout_s: float | None = None, *,
                concurrency: int = 1, prewarm: bool = True) -> Lease:
        """A warm container for ``key``, else a stem cell of the spec's kind and memory, else a new one
        (evicting idle ones if memory is short), else wait in the run buffer, first come first served.

        Raises ``BufferTimeout`` after ``timeout_s`` (the action's timeout) without memory,
        ``PoolExhausted`` for an action larger than the pool, ``ContainerStartupError`` if a new
        container cannot be started, ``PoolClosed`` once closed."""
        wait_s = self._wait_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + wait_s  # waits run on real time; the injectable clock only ages idle ones
        request = Request(key, spec.memory_mb, spec.kind if prewarm and not spec.user_image else None, concurrency)
        ticket = _Waiting(key)
        first = True
        while True:
            lease = self._acquire_once(ticket, first, request, spec, deadline, wait_s)
            if lease is not None:
                return lease
            first = False  # a paused container could not be resumed: try again at the head of the line

    def release(self, lease: Lease, reusable: bool) -> None:
        """Give the container back: kept warm if ``reusable``, else destroyed (after a developer error,
        a whisk error or a timeout its state is unknown) once no other activation runs in it."""
        pooled = lease.pooled
        with self._cond:
            pooled.active -= 1
            if not reusable:
                pooled.doomed = True
            known = self._containers.get(pooled.id) is pooled
            destroy = pooled.doomed or not known or self._closed
            if destroy and pooled.active <= 0:
                self._containers.pop(pooled.id, None)
            elif destroy:
                destroy = False  # others still run in it: the last one out destroys it
                lease.proxy.close()
            else:
                pooled._proxies.append(lease.proxy)
                pooled.last_used = self._clock()
                if pooled.active == 0:
                    pooled.slot = Slot.FREE
            # Only then can a stem cell be missing and startable: memory came free, a stem cell was used, or the
            # line of waiters (while it is there no stem cell starts) may have ended. Waking the housekeeper on
            # every release cost 4 % of an invoker's CPU under load, each wake a pass over every container.
            wake = destroy or lease.from_prewarm or bool(self._queue)
            self._cond.notify_all()
        if destroy:
            lease.proxy.close()
            self._destroy(pooled)
        if wake:
            self._wake.set()

    # --- housekeeping ----------------------------------------------------------------------------

    def reap(self) -> int:
        """Destroy free containers idle for ``idle_timeout_s``; returns how many."""
        with self._cond:
            ids = expired(self._views(), self._clock(), self._idle_timeout_s)
            victims = [self._containers.pop(cid) for cid in ids]
            if victims:
                self._cond.notify_all()
        for pooled in victims:
            self._destroy(pooled)
        if victims:
            with self._cond:
                self._reaped += len(victims)
                self._cond.notify_all()
        return len(victims)

    def pause_idle(self) -> int:
        """Pause free containers idle for ``pause_grace_s`` (idle policy ``pause`` only); returns how many."""
        if self._pause_grace_s is None:
            return 0
        with self._cond:
            ids = to_pause(self._views(), self._clock(), self._pause_grace_s)
            candidates = [self._containers[cid] for cid in ids]
            for pooled in candidates:
                pooled.paused = True
        done = 0
        for pooled in candidates:
            with pooled.engine_lock:
                with self._cond:
                    still_wanted = pooled.paused and pooled.slot is Slot.FREE
                if still_wanted and not pooled.frozen:
                    try:
                        pooled.container.pause()
                        pooled.frozen = True
                        done += 1
                    except ContainerError as e:
                        log.warning("could not pause %s: %s", pooled.container.name, e)
        if done:
            with self._cond:
                self._cond.notify_all()
        return done

    def replenish(self) -> int:
        """Start the stem cells missing from the manifest's counts, into free memory only; returns how many."""
        started = 0
        while True:
            with self._cond:
                if self._closed:
                    return started
                wanted = {key: cell.count for key, cell in self._stem_cells.items()}
                keys = stem_cells_to_start(self._views(), wanted, self._capacity_mb, waiting=bool(self._queue))
                if not keys:
                    return started
                cell = self._stem_cells[keys[0]]
                token = f"starting-{next(self._tokens)}"
                self._starting[token] = _Starting(cell.key, cell.spec.memory_mb)
            began = time.monotonic()
            try:
                container = self._factory.create(cell.spec)
            except ContainerError:
                with self._cond:
                    del self._starting[token]
                    self._cond.notify_all()
                raise
            took = time.monotonic() - began
            pooled = PooledContainer(container, cell.key, Slot.PREWARM, last_used=self._clock())
            # Connected now, so the activation that takes the stem cell does not wait at its /init for a
            # connection and for the proxy's thread to serve it (about 1.5 ms of a prewarm hit, docs/benchmarks.md).
            proxy = self._proxy(container)
            if proxy.connect(_STEM_CONNECT_S):
                pooled._proxies.append(proxy)
            with self._cond:
                self._started_in(took)
                del self._starting[token]
                if not self._closed:
                    self._containers[container.id] = pooled
                self._cond.notify_all()
                closed = self._closed
            if closed:
                proxy.close()
                container.destroy()
                return started
            started += 1

    def wait_prewarmed(self, timeout_s: float) -> bool:
        """Block until every stem cell the manifest asks for is prewarmed (for start-up and tests)."""
        def ready() -> bool:
            views = self._views()
            return all(sum(1 for v in views if v.slot is Slot.PREWARM and v.key == key) >= cell.count
                       for key, cell in self._stem_cells.items())
        with self._cond:
            return self._cond.wait_for(ready, timeout_s)

    def close(self) -> None:
        """Stop housekeeping and destroy every container, free or busy; waiting acquires fail. Then close the
        factory (its own resources: a Docker client, the process factory's cgroups)."""
        with self._cond:
            self._closed = True
            victims = list(self._containers.values())
            self._containers.clear()
            self._cond.notify_all()
        self._stop.set()
        self._wake.set()
        if self._housekeeper is not threading.current_thread():
            self._housekeeper.join()
        for pooled in victims:
            self._destroy(pooled)
        self._factory.close()

    def stats(self) -> dict[str, int]:
        with self._cond:
            views = self._views()
            count = collections.Counter(v.slot for v in views)
            return {"free": count[Slot.FREE], "busy": count[Slot.BUSY], "starting": count[Slot.STARTING],
                    "prewarm": count[Slot.PREWARM], "paused": sum(1 for v in views if v.paused),
                    "waiting": len(self._queue), "reaped": self._reaped, "used_mb": sum(v.memory_mb for v in views),
                    "capacity_mb": self._capacity_mb}

    # --- internals -------------------------------------------------------------------------------

    def _acquire_once(self, ticket: _Waiting, first: bool, request: Request, spec: ContainerSpec,
                      deadline: float, wait_s: float) -> Lease | None:
        """One pass: a lease, or None when a paused container could not be resumed (try again)."""
        with self._cond:
            if first:
                self._queue.append(ticket)
            else:
                self._queue.appendleft(ticket)
            self._note_head()
            self._cond.notify_all()  # observers (stats waiters) see the buffer grow
            try:
                while True:
                    if self._closed:
                        raise PoolClosed()
                    now = time.monotonic()
                    patience_ends = self._head_since + max(self._warm_wait_s, 2 * self._start_s)
                    decision = schedule(self._views(), request, self._capacity_mb,
                                        self._place(ticket, patient=now < patience_ends))
                    if isinstance(decision, Impossible):
                        raise PoolExhausted(f"The action needs {decision.needed_mb} MB but this invoker has "
                                            f"{decision.capacity_mb} MB for containers.")
                    if not isinstance(decision, (Wait, AwaitWarm)):
                        break
                    remaining = deadline - now
                    if remaining <= 0:
                        raise BufferTimeout(round(wait_s * 1000))
                    if self._queue[0] is ticket and now < patience_ends:
                        remaining = min(remaining, patience_ends - now)  # then decide again, impatient
                    self._cond.wait(remaining)
            finally:
                self._queue.remove(ticket)
                self._note_head()
                self._cond.notify_all()  # the next in line may go now
            if isinstance(decision, (Reuse, TakePrewarm)):
                pooled = self._containers[decision.container_id]
                from_prewarm = isinstance(decision, TakePrewarm)
                if from_prewarm:
                    # Replaced in the background once this activation is released (``release`` wakes the
                    # housekeeper): starting a container now would compete with this /init for the CPU.
                    pooled.key = request.key
                    pooled.concurrency = request.concurrency
                pooled.slot = Slot.BUSY
                pooled.active += 1
                pooled.paused = False
                proxy = pooled._proxies.pop() if pooled._proxies else self._proxy(pooled.container)
                lease = Lease(pooled, proxy, from_prewarm)
            else:
                assert isinstance(decision, Start)
                evicted = [self._containers.pop(cid) for cid in decision.evict]
                token = f"starting-{next(self._tokens)}"
                self._starting[token] = _Starting(request.key, request.memory_mb)
        if isinstance(decision, (Reuse, TakePrewarm)):
            return lease if self._resume(lease) else None
        return self._start(token, request, spec, evicted)

    def _start(self, token: str, request: Request, spec: ContainerSpec, evicted: list[PooledContainer]) -> Lease:
        # Slow work outside the lock; the reservation keeps the memory counted meanwhile.
        for old in evicted:
            self._destroy(old)
        began = time.monotonic()
        try:
            container = self._factory.create(spec)
        except BaseException:
            with self._cond:
                del self._starting[token]
                self._cond.notify_all()
            raise
        pooled = PooledContainer(container, request.key, Slot.BUSY, request.concurrency, active=1,
                                 last_used=self._clock())
        with self._cond:
            self._started_in(time.monotonic() - began)
            del self._starting[token]
            closed = self._closed
            if not closed:
                self._containers[pooled.id] = pooled
            self._cond.notify_all()
        if closed:
            self._destroy(pooled)
            raise PoolClosed()
        return Lease(pooled, self._proxy(container))

    def _resume(self, lease: Lease) -> bool:
        """Unpause the leased container if it is paused; False (and the container gone) if that failed."""
        pooled = lease.pooled
        with pooled.engine_lock:
            if not pooled.frozen:
                return True
            try:
                pooled.container.resume()
                pooled.frozen = False
                return True
            except ContainerError as e:
                log.warning("could not resume %s, replacing it: %s", pooled.container.name, e)
        lease.proxy.close()
        with self._cond:
            pooled.active -= 1
            pooled.doomed = True
            gone = pooled.active <= 0
            if gone:
                self._containers.pop(pooled.id, None)
            self._cond.notify_all()
        if gone:
            self._destroy(pooled)
        return False

    def _started_in(self, seconds: float) -> None:
        """Count one container start into the running average (under the lock)."""
        self._start_s += _START_WEIGHT * (seconds - self._start_s)

    def _note_head(self) -> None:
        """Start the head's patience when the run buffer gets a new head (under the lock)."""
        head = self._queue[0] if self._queue else None
        if head is not self._head:
            self._head, self._head_since = head, time.monotonic()

    def _place(self, ticket: _Waiting, patient: bool) -> Place:
        keys = [waiting.key for waiting in self._queue]
        at = next(i for i, waiting in enumerate(self._queue) if waiting is ticket)
        return Place(tuple(keys[:at]), tuple(keys[at + 1:]), patient, self._clock() - STALE_S)

    @staticmethod
    def _proxy(container: Container) -> ProxyClient:
        return ProxyClient(container.host, container.port)

    def _views(self) -> list[ContainerView]:
        views = [pooled.view() for pooled in self._containers.values()]
        views += [ContainerView(t, s.key, s.memory_mb, Slot.STARTING, 0.0) for t, s in self._starting.items()]
        return views

    def _destroy(self, pooled: PooledContainer) -> None:
        with pooled.log_lock:  # let a log collection in progress finish first
            pass
        for proxy in pooled._proxies:
            proxy.close()
        pooled._proxies.clear()
        pooled.container.destroy()

    def _housekeeping(self, interval: float) -> None:
        next_sweep = time.monotonic() + interval
        while not self._stop.is_set():
            if self._wake.is_set():
                self._wake.clear()
                try:
                    self.replenish()
                except Exception as e:  # image missing, engine down (or a bug): retry later, do not spin
                    log.warning("could not start a stem cell: %s (cause: %r)", e, e.__cause__)
                    if self._stop.wait(_STEM_RETRY_S):
                        return
                    self._wake.set()
                    continue
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + interval
                try:
                    if self.reap():
                        self._wake.set()  # the memory of the reaped may take a stem cell
                    self.pause_idle()
                except Exception:  # housekeeping must outlive one failed removal
                    log.exception("idle-container housekeeping failed")
            self._wake.wait(max(next_sweep - time.monotonic(), 0.0))
