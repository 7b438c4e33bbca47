"""Which invokers are alive and where the next activation goes, as a controller sees it.

``Membership`` keeps a short-lived copy of the registry's reports (one read per ``refresh_s`` per process, not
one per request); ``Placer`` turns it into a queue with ``app.core.placement`` and reserves room there.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from app.core.errors import StoreError
from app.core.placement import Placement, place, rendezvous
from app.core.ports import NOT_SENT, InvokerRegistry, SharedWrite

log = logging.getLogger(__name__)

REFRESH_S = 0.5
"""How long a controller trusts its copy of the registry: a new invoker gets work within this, plus its
announce interval."""
GRACE_S = 3.0
"""After the registry was unreadable, how long the invokers known before stay placeable without a fresh report:
theirs lapsed while Redis was away (or it restarted without them), and each announces again within a heartbeat.
The invokers' ``silent_after_s`` in a deployment."""


class Membership:
    """The invokers that announced themselves lately, limited to ``allowed`` when that is not empty."""

    def __init__(self, registry: InvokerRegistry, allowed: tuple[str, ...] = (), refresh_s: float = REFRESH_S,
                 clock: Callable[[], float] = time.monotonic, grace_s: float = GRACE_S) -> None:
        self.registry = registry
        self._allowed = frozenset(allowed)
        self._refresh_s = refresh_s
        self._grace_s = grace_s
        self._grace_until = float("-inf")
        self._clock = clock
        self._lock = threading.Lock()
        self._until = float("-inf")
        self._reports: dict[str, dict[str, Any]] = {}
        self._unreadable = False  # the last read failed (said once per outage, not per refresh)

    def healthy(self) -> dict[str, dict[str, Any]]:
        """Name → latest report of each live invoker. The copy is renewed under the lock, so callers arriving while
        it is stale wait for the one read (a fresh controller never answers from an empty copy). When the registry
        cannot be read, the last copy serves; a process that never read it places on the allow-list's invokers,
        if there is one (they get the work unreserved, and their run buffers hold what they have no room for)."""
        with self._lock:
            now = self._clock()
            if now < self._until:
                return self._reports
            self._until = now + self._refresh_s
            try:
                reports = self.registry.reports()
            except StoreError as e:
                if not self._reports and self._allowed:
                    self._reports = {name: {"name": name} for name in sorted(self._allowed)}
                if not self._unreadable:
                    self._unreadable = True
                    log.warning("the invoker registry cannot be read; placing on the %d last known invokers "
                                "until it can: %s", len(self._reports), e)
                return self._reports
            if self._unreadable:
                self._unreadable = False
                self._grace_until = now + self._grace_s
                log.warning("the invoker registry is readable again")
            if self._allowed:
                reports = {name: report for name, report in reports.items() if name in self._allowed}
            if now < self._grace_until:
                # Without this every invoke was a 503 "No invokers are available" for up to a heartbeat after a
                # Redis restart: the reports had expired, the invokers had not yet announced again.
                reports = {**self._reports, **reports}
            self._reports = reports
            return reports


class Placer:
    """Chooses the invoker queue of each activation and reserves room on it."""

    def __init__(self, membership: Membership) -> None:
        self._membership = membership
        self._registry = membership.registry
        self._turns = itertools.count()  # for placing in turn while no room can be reserved

    def place(self, key: str, memory_mb: int) -> Placement | None:
        """Where an activation of ``key`` (``namespace|action``) needing ``memory_mb`` goes; None when no invoker
        is alive. A reservation made here is released by the invoker when the activation ends, or by
        ``unplace`` when the publish failed."""
        return self.place_after(None, key, memory_mb)[0]

    def place_after(self, ahead: tuple[SharedWrite, ...] | None, key: str,
                    memory_mb: int) -> tuple[Placement | None, object]:
        """``place``, with ``ahead`` (shared-state commands) sent in the round trip of the first reservation
        tried: (the placement, ``ahead``'s replies, a list). The reply is ``NOT_SENT`` when no invoker is alive, and a
        ``StoreError`` when the round trip failed."""
        healthy = self._membership.healthy()
        unreachable: list[str] = []
        reply: object = NOT_SENT
        pending = ahead or None

        def reserve(name: str) -> bool:
            nonlocal reply, pending
            report = healthy[name]
            capacity_mb, threads = int(report.get("capacity_mb", 0)), int(report.get("threads", 1))
            try:
                if pending is None:
                    return self._registry.reserve(name, memory_mb, capacity_mb, threads)
                command, pending = pending, None  # sent once, with the first invoker tried
                try:
                    reply, reserved = self._registry.reserve_after(command, name, memory_mb, capacity_mb, threads)
                except StoreError as e:
                    reply = e
                    raise
                return reserved
            except StoreError as e:  # placement goes on, unreserved, while Redis is away (the registry logs it)
                log.debug("cannot reserve on %s: %s", name, e)
                unreachable.append(name)
                return True

        placement = place(key, healthy, reserve)
        if placement is not None and placement.invoker in unreachable:
            # Redis is away, so no invoker's room is known: take turns over the live ones rather than pile all the
            # outage's work on the home, whose backlog would then hold up every caller once Redis is back (the
            # Redis fault's recovery went from 1-2 s to 4-5 s). Nothing was taken, so nothing is given back.
            order = rendezvous(key, healthy)
            return Placement(order[next(self._turns) % len(order)], reserved=False), reply
        if placement is not None and not placement.reserved:
            try:
                self._registry.placed(placement.invoker)
            except StoreError:
                log.debug("placement on %s not counted", placement.invoker, exc_info=True)
        return placement, reply

    def unplace(self, placement: Placement, memory_mb: int) -> None:
        if placement.reserved:
            try:
                self._registry.release(placement.invoker, memory_mb)
            except StoreError:
                log.warning("room on %s not given back", placement.invoker, exc_info=True)

    def home(self, key: str) -> str | None:
        """The live invoker an unreserved task of ``key`` goes to (composition steps), or None."""
        order = rendezvous(key, self._membership.healthy())
        return order[0] if order else None
