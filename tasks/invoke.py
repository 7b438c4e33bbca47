"""The invoke task: decode the message, run it on this worker's invoker, and hand back the result."""

from __future__ import annotations

from typing import Any

from celery import shared_task, states

from tasks import names
from tasks.base import InvokerTask


@shared_task(name=names.INVOKE, base=InvokerTask, bind=True, ignore_result=True)
def invoke(self: InvokerTask, **message: Any) -> None:
    from app.core.entities import ActivationMessage

    def publish_result(activation: dict[str, Any]) -> None:
        # Straight to the backend: a blocking caller wakes now, before logs and the record are stored.
        self.backend.store_result(self.request.id, activation, states.SUCCESS)

    self.invoker.invoke(ActivationMessage.from_dict(message), publish_result)
