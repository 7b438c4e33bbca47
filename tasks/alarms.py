"""The alarm fire task, run by the scheduler process's embedded worker."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from app.core.errors import Unavailable
from tasks import names
from tasks.base import SquallTask

FIRE_BACKOFF_MAX_S = 60


# acks_late off: a scheduler that dies mid-fire loses that one fire rather than firing it twice.
@shared_task(name=names.FIRE_ALARM, base=SquallTask, bind=True, ignore_result=True, acks_late=False)
def fire_alarm(self: SquallTask, trigger: str, auth_key: str, payload: dict[str, Any], due: int,
               delete_after_fire: bool | str = False) -> None:
    try:
        self.alarms.fire(trigger, auth_key, payload, due, delete_after_fire)
    except Unavailable as e:  # the controller is down, overloaded or throttling: try again later
        retries = self.app.conf.squall_settings.scheduler.fire_retries
        if self.request.retries >= retries:
            self.alarms.give_up(trigger, due, e)
            return
        raise self.retry(exc=e, countdown=min(2 ** (self.request.retries + 1), FIRE_BACKOFF_MAX_S),
                         max_retries=retries) from e
