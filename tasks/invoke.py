"""The invoke task: decode the message, run it on this worker's invoker, and hand back the result."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.exceptions import Reject
from celery.utils.time import get_exponential_backoff_interval

from app.core.entities import ActivationMessage, Document
from app.core.errors import Unavailable
from app.core.ports import SharedWrite
from tasks import names
from tasks.base import SquallTask
from tasks.results import hand_back, reply_channel, result_key

STORE_RETRY_MAX_S = 60
STORE_RETRIES = 120
"""Retries of a kept record, 1 s apart at first, then 60 s: about two hours of a store that stays down. Then
the record is a dead letter (logged and counted by the runner), never a loop that retries it for ever."""

log = logging.getLogger(__name__)


@shared_task(name=names.INVOKE, base=SquallTask, bind=True, ignore_result=True)
def invoke(self: SquallTask, **message: Any) -> None:
    channel = reply_channel(message, result_key(self.app, self.request.id))  # who waits for the result, if anyone

    def publish_result(activation: Document, *writes: SharedWrite) -> None:
        # Straight to the backend: a blocking caller wakes now, before logs and the record are stored. The
        # invoker's shared state is this backend's Redis (``SharedState.for_backend``), so its writes go along.
        hand_back(self.app, self.request.id, activation, channel, writes)

    try:
        self.runner.run(ActivationMessage.from_dict(message), publish_result)
    except Unavailable as e:
        # Nothing is lost by waiting: the action did not start (or it ended and its record is stored), and the
        # journal keeps a requeued message from running it twice. Acknowledging would drop the activation.
        log.warning("activation %s goes back to the queue: %s", self.request.id, e)
        raise Reject(str(e), requeue=True) from e


@shared_task(name=names.STORE_RECORD, base=SquallTask, bind=True, ignore_result=True, max_retries=STORE_RETRIES)
def store_record(self: SquallTask, doc: Document) -> None:
    try:
        self.runner.store_record(doc)  # a record the store refuses ends here, replaced by an error record
    except Exception as e:
        retries: int = self.request.retries
        if retries >= STORE_RETRIES:
            self.runner.dead_letter(doc, f"still not stored after {retries} retries: {e}")
            return
        raise self.retry(exc=e, countdown=get_exponential_backoff_interval(1, retries, STORE_RETRY_MAX_S)) from e
