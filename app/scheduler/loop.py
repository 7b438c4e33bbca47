"""The scheduler process: Celery beat with a scheduler class whose entries are the alarm schedules in the
store, and an embedded worker that runs the fires it sends (``squall scheduler``).

Each tick claims what is due (``AlarmService.claim_due``: the next fire time is stored before the fire is
sent, under the revision it was read at), then sends one ``squall.fire_alarm`` task per claim. A restarted
scheduler reads the stored next times, so it neither loses a schedule nor fires a claimed slot again; if it
was down across several slots it fires the missed alarm once, then keeps to the schedule.

The same process deletes activation records past their retention (``app.scheduler.retention``).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from celery.beat import Scheduler
from celery.utils.nodenames import host_format

from app.core.entities import now_ms
from app.core.errors import PlatformError
from app.core.services.alarms import AlarmService
from app.scheduler.firer import AlarmFirer, RetryableFire
from app.scheduler.retention import RetentionSweeper, retention_service
from app.store import Store, open_store
from config import Settings
from tasks import names
from tasks.base import SquallTask, WorkerContext
from tasks.celery_app import log_as_squall, make_celery

log = logging.getLogger(__name__)

CLAIMS_PER_TICK = 100
MIN_SLEEP_S = 0.05


FIRE_BACKOFF_MAX_S = 60.0


def build_firer(settings: Settings) -> AlarmFirer:
    store = open_store(settings)
    return AlarmFirer(settings.controller.api_host, AlarmService(store, store))


def next_sleep(alarms: AlarmService, claimed: int, poll_s: float) -> float:
    """How long a scheduler sleeps after a tick: briefly if it claimed a full batch, else until the next due
    alarm, at most one poll."""
    if claimed == CLAIMS_PER_TICK:
        return MIN_SLEEP_S  # more may be due
    upcoming = alarms.next_time()
    if upcoming is None:
        return poll_s
    return min(max((upcoming - now_ms()) / 1000, MIN_SLEEP_S), poll_s)


class AlarmLoop:
    """The scheduler without Celery, for ``squall standalone``: one thread claims due alarms (the same claims
    as ``AlarmScheduler``, so it never fires a slot twice) and a small pool fires them with backoff; the
    retention sweeper runs beside it, as in the scheduler process."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self._alarms = AlarmService(store, store)
        self._firer = AlarmFirer(settings.controller.api_host, self._alarms)
        self._poll_s = settings.scheduler.poll_s
        self._retries = settings.scheduler.fire_retries
        self._stopping = threading.Event()
        self._fires = ThreadPoolExecutor(max_workers=4, thread_name_prefix="squall-alarm")
        self._thread = threading.Thread(target=self._run, name="squall-scheduler", daemon=True)
        self._retention = RetentionSweeper(retention_service(settings, store), settings.retention.interval_s)

    def start(self) -> None:
        self._thread.start()
        self._retention.start()

    def stop(self) -> None:
        self._stopping.set()
        self._retention.stop()
        self._thread.join(10)
        self._fires.shutdown(wait=True, cancel_futures=True)
        self._firer.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                claimed = self._alarms.claim_due(CLAIMS_PER_TICK)
                for due in claimed:
                    self._fires.submit(self._fire, due.alarm.doc_id, due.alarm.auth_key, due.alarm.payload,
                                       due.due, due.alarm.delete_after_fire)
                sleep = next_sleep(self._alarms, len(claimed), self._poll_s)
            except (PlatformError, OSError, RuntimeError) as e:  # store down, or stopping mid-tick
                log.warning("alarm tick failed: %s", e)
                sleep = self._poll_s
            self._stopping.wait(sleep)

    def _fire(self, trigger: str, auth_key: str, payload: dict[str, Any], due: int,
              delete_after_fire: bool | str) -> None:
        for attempt in range(self._retries + 1):
            try:
                self._firer.fire(trigger, auth_key, payload, due, delete_after_fire)
                return
            except RetryableFire as e:
                if attempt == self._retries:
                    self._firer.give_up(trigger, due, e)
                    return
                if self._stopping.wait(min(2.0 ** (attempt + 1), FIRE_BACKOFF_MAX_S)):
                    return
            except PlatformError:
                log.exception("firing /%s failed", trigger)
                return


class AlarmScheduler(Scheduler):  # type: ignore[misc]
    """A beat scheduler with no static entries: it polls the store for due alarms. The retention sweeper
    (``app.scheduler.retention``) runs in a thread beside it."""

    def setup_schedule(self) -> None:
        settings: Settings = self.app.conf.squall_settings
        self._settings = settings
        self._store = open_store(settings)
        self._alarms = AlarmService(self._store, self._store)
        self.max_interval = settings.scheduler.poll_s
        # Always, even with retention.keep_days 0: a namespace may still set its own days.
        self._retention = RetentionSweeper(retention_service(settings, self._store), settings.retention.interval_s)
        self._retention.start()

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Claim and send what is due; return how long to sleep (until the next due alarm, at most a poll)."""
        try:
            claimed = self._alarms.claim_due(CLAIMS_PER_TICK)
            for due in claimed:
                alarm = due.alarm
                self.app.send_task(names.FIRE_ALARM, queue=self._settings.scheduler.queue, kwargs={
                    "trigger": alarm.doc_id, "auth_key": alarm.auth_key, "payload": alarm.payload,
                    "due": due.due, "delete_after_fire": alarm.delete_after_fire})
            return next_sleep(self._alarms, len(claimed), float(self.max_interval))
        except (PlatformError, OSError) as e:  # store or broker down: say so, try again next poll
            log.warning("alarm tick failed: %s", e)
            return float(self.max_interval)

    def sync(self) -> None:
        """Nothing to write back: every claim is stored as it is made."""

    def close(self) -> None:
        self._retention.stop()
        self._store.close()

    @property
    def info(self) -> str:
        return f"alarms in the {self._settings.store.kind} store"


def run_scheduler(settings: Settings, *, loglevel: str = "INFO") -> None:
    """Run beat (``AlarmScheduler``) embedded in a worker that consumes the fire queue."""
    log_as_squall(settings, loglevel)
    app = make_celery(settings)
    app.conf.include = ["tasks.alarms"]
    SquallTask.install(WorkerContext(alarms=build_firer(settings)))
    queue = settings.scheduler.queue
    worker = app.Worker(
        hostname=host_format(f"scheduler-{queue}@%h"),
        queues=[queue],
        pool="threads",
        concurrency=4,
        loglevel=loglevel,
        beat=True,
        scheduler=f"{AlarmScheduler.__module__}:{AlarmScheduler.__name__}",
        without_gossip=True,
        without_mingle=True,
        quiet=settings.log.format == "json",  # the start-up banner is text: in json mode every line is an object
    )
    try:
        worker.start()
    finally:
        SquallTask.uninstall()
