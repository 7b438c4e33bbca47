"""The alarm fire task, run by the scheduler process's embedded worker."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from celery import Task, shared_task

from tasks import names

if TYPE_CHECKING:
    from workers.alarm_fire import AlarmFirer

FIRE_BACKOFF_MAX_S = 60


class SchedulerTask(Task):  # type: ignore[misc]
    """Builds the process's one ``AlarmFirer`` lazily from the settings the app was made with."""

    _firer: AlarmFirer | None = None
    _lock = threading.Lock()

    @property
    def firer(self) -> AlarmFirer:
        if SchedulerTask._firer is None:
            with SchedulerTask._lock:
                if SchedulerTask._firer is None:
                    from workers.scheduler import build_firer  # only ever imported in the scheduler process

                    SchedulerTask._firer = build_firer(self.app.conf.squall_settings)
        return SchedulerTask._firer


def _retryable() -> tuple[type[BaseException], ...]:
    from workers.alarm_fire import RetryableFire

    return (RetryableFire,)


# acks_late off: a scheduler that dies mid-fire loses that one fire rather than firing it twice.
@shared_task(name=names.FIRE_ALARM, base=SchedulerTask, bind=True, ignore_result=True, acks_late=False)
def fire_alarm(self: SchedulerTask, trigger: str, auth_key: str, payload: dict[str, Any], due: int,
               delete_after_fire: bool | str = False) -> None:
    try:
        self.firer.fire(trigger, auth_key, payload, due, delete_after_fire)
    except _retryable() as e:
        retries = self.app.conf.squall_settings.scheduler.fire_retries
        if self.request.retries >= retries:
            self.firer.give_up(trigger, due, e)
            return
        raise self.retry(exc=e, countdown=min(2 ** (self.request.retries + 1), FIRE_BACKOFF_MAX_S),
                         max_retries=retries) from e
