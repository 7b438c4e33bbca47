"""Activation retention: records older than their namespace keeps them are deleted, a batch at a time.

How long is the namespace's ``activationsKeepDays`` (``squall admin limits set``), else the deployment's
``retention.keep_days``; 0 keeps them for ever. The scheduler process runs a sweep every
``retention.interval_s`` (``app.scheduler.retention``), and ``squall admin retention run`` runs one at once.
Each batch is one index query and one bulk delete of at most ``retention.batch`` records, with a pause after
it, so a sweep over millions of records never competes with invocations for the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.core.entities import now_ms
from app.core.errors import PlatformError
from app.core.ports import ExpiringActivations

log = logging.getLogger(__name__)

DAY_MS = 86_400_000


@dataclass
class SweepReport:
    """What one sweep did: records deleted per namespace, batches sent, whether it went through every namespace."""

    deleted: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    seconds: float = 0.0
    complete: bool = True
    skipped: list[str] = field(default_factory=list)  # namespaces whose limits could not be read this time

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def cutoff(now: int, keep_days: int) -> int | None:
    """Records that started before this are due for deletion; None when they are kept for ever."""
    return None if keep_days <= 0 else now - keep_days * DAY_MS


class RetentionService:
    """Sweeps ``store`` by each namespace's ``keep_days`` (a lookup that may raise ``PlatformError``)."""

    def __init__(self, store: ExpiringActivations, keep_days: Callable[[str], int], *, batch: int = 500,
                 pause_s: float = 0.5, clock: Callable[[], int] = now_ms) -> None:
        self._store = store
        self._keep_days = keep_days
        self._batch = batch
        self._pause_s = pause_s
        self._clock = clock

    def sweep(self, stop: threading.Event | None = None,
              progress: Callable[[str, int], None] | None = None) -> SweepReport:
        """One pass over every namespace with records. ``stop`` set ends it after the current batch
        (``complete`` is then False); ``progress(namespace, deleted so far)`` is called after each batch.
        Raises ``PlatformError`` when the store cannot list the namespaces."""
        stop = stop or threading.Event()
        report = SweepReport()
        began = time.monotonic()
        now = self._clock()
        for namespace in self._store.activation_namespaces():
            try:
                before = cutoff(now, self._keep_days(namespace))
            except PlatformError as e:  # its limits are unreadable: delete nothing of it rather than guess
                log.warning("retention: the limits of %s cannot be read, its records wait: %s", namespace, e)
                report.skipped.append(namespace)
                continue
            if before is None:
                continue
            while True:
                deleted = self._store.delete_activations_before(namespace, before, self._batch)
                report.batches += 1
                if deleted:
                    report.deleted[namespace] = report.deleted.get(namespace, 0) + deleted
                    if progress is not None:
                        progress(namespace, report.deleted[namespace])
                if deleted < self._batch:
                    break
                if stop.wait(self._pause_s):
                    report.complete = False
                    break
            if stop.is_set():
                report.complete = False
                break
        report.seconds = time.monotonic() - began
        return report
