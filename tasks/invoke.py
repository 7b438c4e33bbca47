"""The invoke task: decode the message, run it on this worker's invoker, and hand back the result."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task, states
from celery.exceptions import Reject

from app.core.entities import ActivationMessage, Document
from app.core.errors import Unavailable
from tasks import names
from tasks.base import SquallTask

STORE_RETRY_MAX_S = 60

log = logging.getLogger(__name__)


@shared_task(name=names.INVOKE, base=SquallTask, bind=True, ignore_result=True)
def invoke(self: SquallTask, **message: Any) -> None:
    def publish_result(activation: Document) -> None:
        # Straight to the backend: a blocking caller wakes now, before logs and the record are stored.
        self.backend.store_result(self.request.id, activation, states.SUCCESS)

    try:
        self.runner.run(ActivationMessage.from_dict(message), publish_result)
    except Unavailable as e:
        # Nothing is lost by waiting: the action did not start (or it ended and its record is stored), and the
        # journal keeps a requeued message from running it twice. Acknowledging would drop the activation.
        log.warning("activation %s goes back to the queue: %s", self.request.id, e)
        raise Reject(str(e), requeue=True) from e


@shared_task(name=names.STORE_RECORD, base=SquallTask, bind=True, ignore_result=True,
             autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=STORE_RETRY_MAX_S,
             max_retries=None)
def store_record(self: SquallTask, doc: Document) -> None:
    self.runner.store_record(doc)
