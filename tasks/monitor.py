"""How the invokers are: the invoker registry for their announcements, the broker for queue lengths."""

from __future__ import annotations

import dataclasses
import logging

from celery import Celery
from kombu.exceptions import OperationalError

from app.core.errors import StoreError
from app.core.invokers import InvokerStatus
from app.core.ports import InvokerRegistry

log = logging.getLogger(__name__)



class CeleryInvokerMonitor:
    """Implements ``app.core.ports.InvokerMonitor``: the invoker registry for who is alive and how each is doing,
    the broker for how many messages wait in each queue."""

    def __init__(self, celery: Celery, registry: InvokerRegistry, allowed: tuple[str, ...] = ()) -> None:
        self._celery = celery
        self._registry = registry
        self._allowed = allowed

    def invokers(self) -> list[InvokerStatus]:
        try:
            reports = self._registry.reports()
            departed = self._registry.departed()
        except StoreError:
            log.warning("cannot read the invoker registry", exc_info=True)
            reports, departed = {}, []
        names = sorted({*self._allowed, *reports, *departed},
                       key=lambda n: (n not in reports, bool(self._allowed) and n not in self._allowed, n))
        found = []
        for name in names:
            queued = self._queued(name)
            configured = not self._allowed or name in self._allowed
            if name in reports:
                status = InvokerStatus.from_report("", reports[name], queued)
            else:
                status = InvokerStatus(name=name, healthy=False, queued=queued)
            found.append(dataclasses.replace(status, configured=configured,
                                             placements_per_minute=self._placements(name)))
        return found

    def _placements(self, name: str) -> int:
        try:
            return self._registry.placements(name)
        except StoreError:
            return 0

    def _queued(self, queue: str) -> int | None:
        """Messages ready in the queue, by a passive declare; None if the queue does not exist or the broker
        is down."""
        with self._celery.connection_for_read() as conn:
            try:
                channel = conn.channel()
                try:
                    _, count, _ = channel.queue_declare(queue=queue, passive=True)
                    return int(count)
                finally:
                    channel.close()
            except (*conn.channel_errors, *conn.connection_errors, OperationalError):
                # a missing queue closes the channel with 404; the page shows "unknown"
                log.debug("cannot count queue %s", queue, exc_info=True)
                return None
