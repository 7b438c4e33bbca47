"""One activation message run to its end, the same under Celery and in ``squall standalone``.

The invoker runs the action, publishes the result and stores the record; after it, two things may remain, and
they are written here once: a record the store refused through every retry is kept for later (the action is not
run again), and a sequence or conductor component's completion carries its composition on. Only how those two
travel differs by transport (``FollowUps``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from app.core.entities import Activation, ActivationMessage, Document
from app.core.errors import StoreError
from app.core.ports import FollowUps, InvokerRegistry
from app.core.services.compositions import completed_event
from workers.invoker import Invoker
from workers.records import RecordNotStored

__all__ = ["ActivationRunner"]

log = logging.getLogger(__name__)


class ActivationRunner:
    """An invoker plus the steps after each activation (``tasks.base.ActivationRunning``). With a ``registry``,
    the room a controller reserved for an activation on this invoker is given back when it ends."""

    def __init__(self, invoker: Invoker, follow_ups: FollowUps, registry: InvokerRegistry | None = None) -> None:
        self.invoker = invoker
        self._follow_ups = follow_ups
        self._registry = registry
        self._lock = threading.Lock()
        self._in_flight = 0

    def run(self, message: ActivationMessage, publish_result: Callable[[Document], None]) -> Activation:
        """Run ``message``; returns its record (published, and stored or kept). Raises ``Unavailable`` when a
        follow-up cannot be handed over (the message is then redelivered; the journal keeps the action from
        running twice)."""
        with self._lock:
            self._in_flight += 1
        try:
            try:
                activation = self.invoker.invoke(message, publish_result)
            except RecordNotStored as e:
                self._follow_ups.keep_record(e.doc)
                activation = Activation.from_doc(e.doc)
        finally:
            with self._lock:
                self._in_flight -= 1
            self._release(message)
        if message.continuation is not None:
            self._follow_ups.continue_composition(completed_event(message.continuation, activation))
        return activation

    def _release(self, message: ActivationMessage) -> None:
        if self._registry is None or message.placed_on is None:
            return
        try:
            self._registry.release(message.placed_on, message.reserved_mb)
        except StoreError as e:  # the invoker's next start resets what it holds
            log.warning("room reserved for %s on %s not given back: %s", message.activation_id,
                        message.placed_on, e)

    def store_record(self, doc: Document) -> None:
        self.invoker.store_record(doc)

    def status(self) -> dict[str, Any]:
        """What this invoker announces: its pool, threads and the activations running now."""
        with self._lock:
            in_flight = self._in_flight
        return {**self.invoker.status(), "in_flight": in_flight}

    def close(self) -> None:
        self.invoker.close()
