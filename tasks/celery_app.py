"""The Celery app factory, shared by the controller (to send) and invokers (to run).

Nothing is created at import time; each process calls ``make_celery(settings)`` once.
Settings, chosen by measurement (docs/dependencies.md): late acks, redelivery of a lost worker's task,
prefetch 1, publisher confirms, durable queues, one queue per invoker, JSON only.
"""

from __future__ import annotations

from celery import Celery

from config import Settings


def make_celery(settings: Settings, *, worker: bool = False) -> Celery:
    """A Celery app for these settings; ``worker=True`` also registers the task bodies."""
    app = Celery(
        "squall",
        broker=settings.broker.url,
        backend=settings.broker.result_backend,
        include=["tasks.invoke", "tasks.composition"] if worker else [],
        set_as_current=False,
    )
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"confirm_publish": True},
        broker_connection_retry_on_startup=True,
        broker_pool_limit=max(settings.controller.threads, 10),
        task_default_queue=settings.invoker.name,
        task_create_missing_queues=True,
        result_expires=settings.broker.result_expires_s,
        result_extended=False,
        worker_send_task_events=settings.broker.task_events,
        # No task-sent event: Celery names it after the task ("squall.invoke"), not the shadow name, and Flower
        # would then show that instead of the action path the invoker's events carry.
        task_send_sent_event=False,
        worker_hijack_root_logger=False,
        # An activation's result is handed back explicitly by the task, before its record is stored.
        task_ignore_result=True,
    )
    app.conf.squall_settings = settings
    return app
