"""The scheduler process: Celery beat with a scheduler class whose entries are the alarm schedules in the
store, and an embedded worker that runs the fires it sends (``squall scheduler``).

Each tick claims what is due (``AlarmService.claim_due``: the next fire time is stored before the fire is
sent, under the revision it was read at), then sends one ``squall.fire_alarm`` task per claim. A restarted
scheduler reads the stored next times, so it neither loses a schedule nor fires a claimed slot again; if it
was down across several slots it fires the missed alarm once, then keeps to the schedule.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.beat import Scheduler

from app.core.entities import now_ms
from app.core.errors import PlatformError
from app.core.services.alarms import AlarmService
from app.store.couchdb import CouchStore
from config import Settings
from tasks import names
from tasks.celery_app import make_celery
from workers.alarm_fire import AlarmFirer

log = logging.getLogger(__name__)

CLAIMS_PER_TICK = 100
MIN_SLEEP_S = 0.05


def build_firer(settings: Settings) -> AlarmFirer:
    store = CouchStore(settings.couchdb)
    store.setup()
    return AlarmFirer(settings.controller.api_host, AlarmService(store, store))


class AlarmScheduler(Scheduler):  # type: ignore[misc]
    """A beat scheduler with no static entries: it polls the store for due alarms."""

    def setup_schedule(self) -> None:
        settings: Settings = self.app.conf.squall_settings
        self._settings = settings
        self._store = CouchStore(settings.couchdb)
        self._store.setup()
        self._alarms = AlarmService(self._store, self._store)
        self.max_interval = settings.scheduler.poll_s

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Claim and send what is due; return how long to sleep (until the next due alarm, at most a poll)."""
        try:
            claimed = self._alarms.claim_due(CLAIMS_PER_TICK)
            for due in claimed:
                alarm = due.alarm
                self.app.send_task(names.FIRE_ALARM, queue=self._settings.scheduler.queue, kwargs={
                    "trigger": alarm.doc_id, "auth_key": alarm.auth_key, "payload": alarm.payload,
                    "due": due.due, "delete_after_fire": alarm.delete_after_fire})
            if len(claimed) == CLAIMS_PER_TICK:
                return MIN_SLEEP_S  # more may be due
            upcoming = self._alarms.next_time()
        except (PlatformError, OSError) as e:  # store or broker down: say so, try again next poll
            log.warning("alarm tick failed: %s", e)
            return float(self.max_interval)
        if upcoming is None:
            return float(self.max_interval)
        return float(min(max((upcoming - now_ms()) / 1000, MIN_SLEEP_S), self.max_interval))

    def sync(self) -> None:
        """Nothing to write back: every claim is stored as it is made."""

    def close(self) -> None:
        self._store.close()

    @property
    def info(self) -> str:
        return f"alarms in {self._settings.couchdb.url} ({self._settings.couchdb.prefix}alarms)"


def run_scheduler(settings: Settings, *, loglevel: str = "INFO") -> None:
    """Run beat (``AlarmScheduler``) embedded in a worker that consumes the fire queue."""
    app = make_celery(settings)
    app.conf.include = ["tasks.alarms"]
    queue = settings.scheduler.queue
    worker = app.Worker(
        hostname=f"scheduler-{queue}@%h",
        queues=[queue],
        pool="threads",
        concurrency=4,
        loglevel=loglevel,
        beat=True,
        scheduler=f"{AlarmScheduler.__module__}:{AlarmScheduler.__name__}",
        without_gossip=True,
        without_mingle=True,
    )
    worker.start()
