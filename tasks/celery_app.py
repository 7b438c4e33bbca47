"""The Celery app factory, shared by the controller (to send) and invokers (to run).

Nothing is created at import time; each process calls ``make_celery(settings)`` once.
Settings, chosen by measurement (docs/dependencies.md): late acks, redelivery of a lost worker's task,
prefetch 1, publisher confirms, durable queues, one queue per invoker, JSON only.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from celery import Celery
from celery.signals import setup_logging

from app.log_format import configure_logging
from config import Settings
from tasks.message_json import read_as_plain_json

CHUNKED_SCHEMES = frozenset({"amqp", "pyamqp"})
"""Brokers reached through ``CHUNKED_TRANSPORT``: py-amqp over plain TCP (kombu's other transports, and TLS, read
their own way)."""
CHUNKED_TRANSPORT = "tasks.amqp_transport:Transport"


def make_celery(settings: Settings, *, worker: bool = False) -> Celery:
    """A Celery app for these settings; ``worker=True`` also registers the task bodies."""
    read_as_plain_json()  # parameters and results are the caller's JSON, never kombu's typed objects
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
        # After a broker connection is lost, Celery lowers the prefetch count for the messages it held and then
        # raises it again from each finishing task, so thread-pool workers send basic.qos on the one shared
        # connection from many threads at once; after a broker restart that wedged every invoker until the broker
        # dropped it for missed heartbeats (minutes). Off, the worker sets its prefetch once and consumes again
        # within a second of the broker's return (tests/integration/test_faults.py).
        worker_enable_prefetch_count_reduction=False,
        # Invokers hand results to Redis (controllers wait with their own bounded client, tasks/results.py): while
        # Redis is away, give a result up within about a second instead of Celery's 20 one-second retries (the
        # record is stored in the database either way).
        redis_socket_connect_timeout=1.0,
        redis_socket_timeout=5.0,
        result_backend_transport_options={"retry_policy": {"max_retries": 2, "interval_start": 0.1,
                                                           "interval_step": 0.2, "interval_max": 0.5}},
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
    if urlsplit(settings.broker.url).scheme in CHUNKED_SCHEMES:
        app.conf.broker_transport = CHUNKED_TRANSPORT
    app.conf.squall_settings = settings
    return app


def log_as_squall(settings: Settings, loglevel: str) -> None:
    """A worker process (invoker, scheduler) logs as every Squall process does (``app.log_format``): configured
    here, once, and Celery told to configure nothing of its own (a ``setup_logging`` receiver; without one it
    gives its task loggers a handler and format of their own), so Celery's, kombu's and our records share the
    one handler and format."""
    configure_logging(settings.log.format, loglevel)
    setup_logging.connect(_configured_already, weak=False)
    if settings.log.format == "json":
        from celery.apps import worker

        # Celery's signal handlers write their notices ("worker: Warm shutdown (MainProcess)") straight to the
        # stdout descriptor, bypassing logging (a signal handler must not wait for a lock logging may hold):
        # in json mode they are written as a JSON line, the same lock-free way.
        worker.safe_say = _say_as_json


def _say_as_json(msg: str, f: Any = None) -> None:
    """``celery.apps.worker.safe_say`` (same arguments): ``msg`` as one JSON line on ``f``'s descriptor."""
    line = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"), "level": "INFO",
            "logger": "celery.apps.worker", "message": msg}
    with contextlib.suppress(OSError, ValueError):  # as Celery's own: a lost notice must not break the shutdown
        os.write(f.fileno() if f is not None else 2, (json.dumps(line) + "\n").encode())


def _configured_already(**_: Any) -> None:
    """Celery's ``setup_logging`` signal: logging is configured (``log_as_squall``)."""
