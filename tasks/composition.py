"""The composition step task: one step of a sequence or conductor action (``app.core.compositions``)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from app.core.errors import StoreError, Unavailable
from app.log_format import transaction
from tasks import names
from tasks.base import SquallTask

RETRY_MAX_S = 30


@shared_task(name=names.COMPOSITION_STEP, base=SquallTask, bind=True, ignore_result=True,
             autoretry_for=(StoreError, Unavailable), retry_backoff=True, retry_backoff_max=RETRY_MAX_S,
             max_retries=None)
def composition_step(self: SquallTask, **event: Any) -> None:
    # Its lines carry the transaction id of the request that started the composition, as its components' do.
    with transaction((event.get("continuation") or {}).get("transaction_id")):
        self.compositions.step(**event)
