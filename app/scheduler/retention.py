"""The retention sweeper of the scheduler process (and of ``squall standalone``): a thread that runs
``RetentionService.sweep`` every ``retention.interval_s`` (the rules are in ``app.core.services.retention``)."""

from __future__ import annotations

import logging
import threading

from app.core.errors import PlatformError
from app.core.limits import NamespaceLimits
from app.core.services.limits import LimitsService
from app.core.services.retention import RetentionService
from app.store import Store
from config import Settings

log = logging.getLogger(__name__)

FIRST_SWEEP_S = 30.0
"""The first sweep waits this long after the start (at most an interval), so a starting deployment does its
own work first."""


def retention_service(settings: Settings, store: Store) -> RetentionService:
    limits = LimitsService(store, NamespaceLimits(settings.limits.invocations_per_minute,
                                                  settings.limits.fires_per_minute,
                                                  activations_keep_days=settings.retention.keep_days),
                           settings.controller.identity_cache_seconds)
    return RetentionService(store, lambda namespace: limits.of(namespace).activations_keep_days,
                            batch=settings.retention.batch, pause_s=settings.retention.pause_s)


class RetentionSweeper:
    """Runs a sweep every ``interval_s`` in its own thread until ``stop()``."""

    def __init__(self, service: RetentionService, interval_s: float) -> None:
        self._service = service
        self._interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="squall-retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(10)

    def _run(self) -> None:
        wait = min(FIRST_SWEEP_S, self._interval_s)
        while not self._stopping.wait(wait):
            try:
                report = self._service.sweep(self._stopping)
            except PlatformError as e:  # the store is away: try again next interval
                log.warning("retention sweep failed: %s", e)
            else:
                if report.total or report.skipped:
                    log.info("retention sweep: %d records deleted in %d batches (%.1f s)%s", report.total,
                             report.batches, report.seconds,
                             f"; limits unreadable for {', '.join(report.skipped)}" if report.skipped else "")
            wait = self._interval_s
