"""The composition step task: one step of a sequence or conductor action (``app.core.compositions``)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from celery import Task, shared_task, states

from app.core.errors import StoreError, Unavailable
from tasks import names

if TYPE_CHECKING:
    from app.core.services.compositions import CompositionService

RETRY_MAX_S = 30


class _BackendSink:
    """``ResultSink`` over this worker's Celery result backend."""

    def __init__(self, task: Task) -> None:
        self._task = task

    def store_result(self, activation_id: str, activation: dict[str, Any]) -> None:
        self._task.backend.store_result(activation_id, activation, states.SUCCESS)


class CompositionTask(Task):  # type: ignore[misc]
    """Builds the composition service lazily, once per worker process."""

    _service: CompositionService | None = None
    _lock = threading.Lock()

    @property
    def service(self) -> CompositionService:
        if CompositionTask._service is None:
            with CompositionTask._lock:
                if CompositionTask._service is None:
                    CompositionTask._service = self._build()
        return CompositionTask._service

    def _build(self) -> CompositionService:
        from app.core.services.compositions import CompositionService
        from app.store import open_store
        from tasks.dispatch import CeleryDispatcher  # the one Celery publisher, shared with the controller
        from workers.ledger import MemoryStepLedger, RedisStepLedger

        settings = self.app.conf.squall_settings
        store = open_store(settings)
        dispatcher = CeleryDispatcher(self.app, settings.invoker.queues)
        backend = settings.broker.result_backend
        # Without Redis the marks live in this process only (as the invoker's start journal does).
        ledger = RedisStepLedger(backend) if backend.startswith(("redis://", "rediss://")) else MemoryStepLedger()
        return CompositionService(store, store, dispatcher, _BackendSink(self), settings.limits.sequence_max_length,
                                  ledger)


@shared_task(name=names.COMPOSITION_STEP, base=CompositionTask, bind=True, ignore_result=True,
             autoretry_for=(StoreError, Unavailable), retry_backoff=True, retry_backoff_max=RETRY_MAX_S,
             max_retries=None)
def composition_step(self: CompositionTask, **event: Any) -> None:
    self.service.step(**event)
