"""The invoke task: decode the message, run it on this worker's invoker, and hand back the result."""

from __future__ import annotations

from typing import Any

from celery import shared_task, states

from tasks import names
from tasks.base import InvokerTask

STORE_RETRY_MAX_S = 60


@shared_task(name=names.INVOKE, base=InvokerTask, bind=True, ignore_result=True)
def invoke(self: InvokerTask, **message: Any) -> None:
    from app.core.entities import Activation, ActivationMessage
    from workers.invoker import RecordNotStored

    def publish_result(activation: dict[str, Any]) -> None:
        # Straight to the backend: a blocking caller wakes now, before logs and the record are stored.
        self.backend.store_result(self.request.id, activation, states.SUCCESS)

    msg = ActivationMessage.from_dict(message)
    try:
        activation = self.invoker.invoke(msg, publish_result)
    except RecordNotStored as e:
        # Hand the record to the broker, durably, rather than lose it; the action is not run again.
        store_record.apply_async(kwargs={"doc": e.doc}, queue=self.app.conf.squall_settings.invoker.name)
        activation = Activation.from_doc(e.doc)
    if msg.continuation is not None:
        # A sequence or conductor step: the composition goes on from here. Published before this message is
        # acknowledged, so a crash in between redelivers the message and the composition still goes on.
        from app.core.services.compositions import completed_event
        from tasks.composition import composition_step

        composition_step.apply_async(kwargs=completed_event(msg.continuation, activation),
                                     queue=self.app.conf.squall_settings.invoker.name)


@shared_task(name=names.STORE_RECORD, base=InvokerTask, bind=True, ignore_result=True,
             autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=STORE_RETRY_MAX_S,
             max_retries=None)
def store_record(self: InvokerTask, doc: dict[str, Any]) -> None:
    self.invoker.store_record(doc)
