"""Asking the invokers how they are: Celery remote control for their pools, the broker for queue lengths."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError

from app.core.invokers import InvokerStatus
from tasks import names

log = logging.getLogger(__name__)

REPLY_TIMEOUT_S = 1.0


class CeleryInvokerMonitor:
    """Implements ``app.core.ports.InvokerMonitor``: broadcasts ``squall_status`` and counts queued messages."""

    def __init__(self, celery: Celery, queues: tuple[str, ...], timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self._celery = celery
        self._queues = queues
        self._timeout_s = timeout_s

    def invokers(self) -> list[InvokerStatus]:
        try:
            replies: list[dict[str, Any]] = self._celery.control.broadcast(
                names.STATUS, reply=True, timeout=self._timeout_s) or []
        except OperationalError:  # broker down: every invoker is unreachable as far as we can tell
            log.warning("cannot reach the broker to ask invokers for their status", exc_info=True)
            replies = []
        # Only Squall invokers answer with a name; other Celery workers on the same broker answer with an error.
        reports = {str(report["name"]): (host, report) for reply in replies for host, report in reply.items()
                   if isinstance(report, dict) and "name" in report}
        found = []
        for name in sorted({*self._queues, *reports}, key=lambda n: (n not in self._queues, n)):
            queued = self._queued(name)
            if name in reports:
                host, report = reports[name]
                status = InvokerStatus.from_report(host, report, queued)
                found.append(dataclasses.replace(status, configured=name in self._queues))
            else:
                found.append(InvokerStatus(name=name, healthy=False, queued=queued))
        return found

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
