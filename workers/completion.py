"""One activation message run to its end, the same under Celery and in ``squall standalone``.

The invoker runs the action, publishes the result and stores the record; after it, two things may remain, and
they are written here once: a record the store refused through every retry is kept for later (the action is not
run again), and a sequence or conductor component's completion carries its composition on. Only how those two
travel differs by transport (``FollowUps``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.core.entities import Activation, ActivationMessage, Document
from app.core.ports import FollowUps
from app.core.services.compositions import completed_event
from workers.invoker import Invoker
from workers.records import RecordNotStored

__all__ = ["ActivationRunner"]


class ActivationRunner:
    """An invoker plus the steps after each activation (``tasks.base.ActivationRunning``)."""

    def __init__(self, invoker: Invoker, follow_ups: FollowUps) -> None:
        self.invoker = invoker
        self._follow_ups = follow_ups

    def run(self, message: ActivationMessage, publish_result: Callable[[Document], None]) -> Activation:
        """Run ``message``; returns its record (published, and stored or kept). Raises ``Unavailable`` when a
        follow-up cannot be handed over (the message is then redelivered; the journal keeps the action from
        running twice)."""
        try:
            activation = self.invoker.invoke(message, publish_result)
        except RecordNotStored as e:
            self._follow_ups.keep_record(e.doc)
            activation = Activation.from_doc(e.doc)
        if message.continuation is not None:
            self._follow_ups.continue_composition(completed_event(message.continuation, activation))
        return activation

    def store_record(self, doc: Document) -> None:
        self.invoker.store_record(doc)

    def status(self) -> dict[str, Any]:
        return self.invoker.status()

    def close(self) -> None:
        self.invoker.close()
