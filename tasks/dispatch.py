"""The Celery dispatcher: publishes activations to invoker queues and waits on the result backend."""

from __future__ import annotations

import zlib
from dataclasses import replace
from typing import Any

from celery import Celery, states
from celery.exceptions import TimeoutError as CeleryTimeout
from kombu.exceptions import OperationalError

from app.core.entities import Activation, ActivationMessage, Document
from app.core.errors import Unavailable
from app.core.placement import Placement
from app.core.services.placement import Placer
from tasks import names

NO_INVOKER = "No invokers are available to run the action; try again shortly."


class CeleryDispatcher:
    """Implements ``app.core.ports.Dispatcher``, ``ResultSink`` and ``CompositionStarter`` over a Celery app
    (RabbitMQ + result backend). Composition steps use it in invoker processes too.

    With a ``placer`` (the invoker registry is shared: Redis), each activation goes to a live invoker with room
    (``app.core.placement``); without one, to a fixed home among ``queues`` by a hash of the action.
    """

    def __init__(self, celery: Celery, queues: tuple[str, ...], placer: Placer | None = None) -> None:
        self._celery = celery
        self._queues = queues
        self._placer = placer

    def _fixed_queue(self, key: str) -> str:
        return self._queues[zlib.crc32(key.encode()) % len(self._queues)]

    def _step_queue(self, key: str) -> str:
        if self._placer is None:
            return self._fixed_queue(key)
        home = self._placer.home(key)
        if home is None:
            raise Unavailable(NO_INVOKER)
        return home

    def publish_step(self, step: dict[str, Any], key: str) -> None:
        queue = self._step_queue(key)
        try:
            self._celery.send_task(names.COMPOSITION_STEP, kwargs=step, queue=queue, retry=True,
                                   retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2})
        except OperationalError as e:
            raise Unavailable() from e

    def store_result(self, activation_id: str, activation: dict[str, Any]) -> None:
        self._celery.backend.store_result(activation_id, activation, states.SUCCESS)

    def publish(self, message: ActivationMessage) -> None:
        key = f"{message.namespace}|{message.action}"
        placement: Placement | None = None
        if self._placer is None:
            queue = self._fixed_queue(key)
        else:
            placement = self._placer.place(key, message.memory_mb)
            if placement is None:
                raise Unavailable(NO_INVOKER)
            queue = placement.invoker
            if placement.reserved:
                message = replace(message, placed_on=queue, reserved_mb=message.memory_mb)
        try:
            self._celery.send_task(
                names.INVOKE,
                kwargs=message.to_dict(),
                task_id=message.activation_id,
                queue=queue,
                shadow=f"/{message.action}",  # Flower and logs show what ran, not just "squall.invoke"
                # Nobody waits for a non-blocking one: do not subscribe to its result (two Redis round
                # trips and the result consumer's lock per call). The invoker stores the result anyway.
                ignore_result=not message.blocking,
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
            )
        except OperationalError as e:
            if placement is not None and self._placer is not None:
                self._placer.unplace(placement, message.memory_mb)
            raise Unavailable() from e

    def wait(self, activation_id: str, timeout_s: float) -> Activation | None:
        result = self._celery.AsyncResult(activation_id)
        try:
            value = result.get(timeout=timeout_s, propagate=False, disable_sync_subtasks=False)
        except CeleryTimeout:
            # Stop listening for it; the record will be read from the store later.
            remove = getattr(self._celery.backend, "remove_pending_result", None)
            if remove is not None:
                remove(result)
            return None
        return Activation.from_doc(value) if isinstance(value, dict) else None

    def peek(self, activation_id: str) -> Activation | None:
        meta = self._celery.backend.get_task_meta(activation_id)
        value = meta.get("result") if meta.get("status") == "SUCCESS" else None
        return Activation.from_doc(value) if isinstance(value, dict) else None


class CeleryFollowUps:
    """Implements ``app.core.ports.FollowUps`` for an invoker: both hand-overs are tasks on its own queue, published
    (with confirms) before the activation's message is acknowledged, so a crash in between redelivers the message
    rather than losing either."""

    def __init__(self, celery: Celery, queue: str) -> None:
        self._celery = celery
        self._queue = queue

    def keep_record(self, doc: Document) -> None:
        self._send(names.STORE_RECORD, {"doc": doc})

    def continue_composition(self, event: dict[str, Any]) -> None:
        self._send(names.COMPOSITION_STEP, event)

    def _send(self, task: str, kwargs: dict[str, Any]) -> None:
        try:
            self._celery.send_task(task, kwargs=kwargs, queue=self._queue, retry=True,
                                   retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2})
        except OperationalError as e:
            raise Unavailable() from e
