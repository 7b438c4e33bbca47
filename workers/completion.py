"""One activation message run to its end, the same under Celery and in ``squall standalone``.

The invoker runs the action, publishes the result and stores the record; after it, two things may remain, and
they are written here once: a record the store could not take through every retry is kept for later (the action
is not run again), and a sequence or conductor component's completion carries its composition on. Only how those
two travel differs by transport (``FollowUps``).

A record that is never stored as it is, is a dead letter, and each is logged (with the activation id and why)
and counted in this invoker's report (``dead_letters``, on the admin invokers page) and its metrics
(``squall_dead_letters_total``): one the store refused
(an error record took its place: ``workers.records.stand_in``), or one still not stored when the
``store_record`` task ran out of retries (``tasks.invoke``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from app.core.entities import Activation, ActivationMessage, Document
from app.core.errors import StoreError, StoreUnavailable
from app.core.ports import FollowUps, InFlight, InvokerRegistry, SharedWrite
from app.core.services.compositions import completed_event
from app.log_format import transaction
from workers.activation_log import log_activation
from workers.invoker import Invoker, Publish, RunNotes, TryLater
from workers.metrics import InvokerMetrics
from workers.records import RecordNotStored, RecordRefused, stand_in

__all__ = ["ActivationRunner"]

log = logging.getLogger(__name__)

MAX_OWED = 100_000
"""Room owed to the registry is remembered for at most this many activations (a bound, never reached in
practice: activations cannot start while Redis, which holds the journal too, is away)."""


class ActivationRunner:
    """An invoker plus the steps after each activation (``tasks.base.ActivationRunning``). With a ``registry``,
    the room a controller reserved for an activation on this invoker is given back when it ends; with an
    ``inflight``, the activation stops counting against its namespace's concurrentInvocations then."""

    def __init__(self, invoker: Invoker, follow_ups: FollowUps, registry: InvokerRegistry | None = None,
                 inflight: InFlight | None = None, metrics: InvokerMetrics | None = None) -> None:
        self.invoker = invoker
        self._metrics = metrics if metrics is not None else InvokerMetrics()  # the invoker's, in a process
        self._follow_ups = follow_ups
        self._registry = registry
        self._inflight = inflight
        self._lock = threading.Lock()
        self._in_flight = 0
        self._dead_letters = 0
        self._unreleased: list[tuple[str, int]] = []  # (invoker, MB) of room not yet given back

    def run(self, message: ActivationMessage, publish_result: Publish) -> Activation:
        """Run ``message``; returns its record (published, and stored or kept). Raises ``Unavailable`` when a
        follow-up cannot be handed over (the message is then redelivered; the journal keeps the action from
        running twice)."""
        with transaction(message.transaction_id):  # every line written for this activation carries its tid
            return self._run(message, publish_result)

    def _run(self, message: ActivationMessage, publish_result: Publish) -> Activation:
        with self._lock:
            self._in_flight += 1
        ran = True
        left_flight = False
        notes = RunNotes()

        def leave_then_publish(result: Document, *writes: SharedWrite) -> None:
            # The slot goes before the caller wakes: a client at its concurrentInvocations limit that invokes
            # again as soon as it has its answer must not find its finished activation still counted. Where the
            # count is shared, the release travels with the result (one round trip); should that fail, the
            # release is made again at the end.
            nonlocal left_flight
            leave = None
            if self._inflight is not None and not left_flight:
                leave = self._inflight.release_later(message.namespace, message.activation_id)
                left_flight = leave is None
            if leave is None:
                publish_result(result, *writes)
            else:
                publish_result(result, *writes, leave)
                left_flight = True

        try:
            try:
                activation = self.invoker.invoke(message, leave_then_publish, notes)
            except RecordNotStored as e:
                self._follow_ups.keep_record(e.doc)
                activation = Activation.from_doc(e.doc)
            except RecordRefused as e:  # the caller was answered; an error record stands in for this one
                self.dead_letter(e.doc, f"refused by the store, an error record stored in its place: {e.reason}")
                activation = Activation.from_doc(e.doc)
            self._metrics.finished(activation)
        except TryLater:
            # Not run: the message goes back to the queue with its reservation, which the run that comes of it
            # gives back (giving it back here as well took one activation's room twice off the count).
            ran = False
            raise
        finally:
            with self._lock:
                self._in_flight -= 1
            if ran:
                self._release(message)
                if self._inflight is not None and not left_flight:
                    # Whatever the record says (result, timeout, the invoker that died before: a redelivery's
                    # record), it is produced: the activation is no longer in flight.
                    self._inflight.release(message.namespace, message.activation_id)
        log_activation(message, activation, notes.start)
        if message.continuation is not None:
            self._follow_ups.continue_composition(completed_event(message.continuation, activation))
        return activation

    def _release(self, message: ActivationMessage) -> None:
        """Give back the room reserved for ``message``, and any this invoker still owes: room it could not give
        back while Redis was away is given back with the next release that gets through. Without that, every
        Redis outage took the room of the activations that ended during it off the invoker until its restart."""
        if self._registry is None or message.placed_on is None:
            return
        with self._lock:
            owed = [*self._unreleased, (message.placed_on, message.reserved_mb)]
            self._unreleased = []
        for done, (name, memory_mb) in enumerate(owed):
            try:
                self._registry.release(name, memory_mb)
            except StoreError as e:  # the registry logs the outage once; each activation's room is owed meanwhile
                with self._lock:
                    self._unreleased = [*owed[done:], *self._unreleased][-MAX_OWED:]
                log.debug("room reserved for %s on %s not given back yet: %s", message.activation_id,
                          message.placed_on, e)
                return
        if len(owed) > 1:
            log.info("gave back the room of %d activations that ended while the registry was unreachable",
                     len(owed) - 1)

    def store_record(self, doc: Document) -> None:
        """Store a record an earlier attempt could not. One the store refuses (anything but being down) is
        replaced by an error record, a dead letter. Raises ``StoreError`` when neither could be stored (the
        store is down, or refuses the error record too): the caller tries again later."""
        try:
            self.invoker.store_record(doc)
            return
        except StoreUnavailable:
            raise
        except (StoreError, ValueError, TypeError) as e:  # this record, as it is, will never be stored
            reason = str(e) or type(e).__name__
        self.invoker.store_record(stand_in(doc))
        self.dead_letter(doc, f"refused by the store, an error record stored in its place: {reason}")

    def dead_letter(self, doc: Document, why: str) -> None:
        """Count and log a record that is not stored as it is (see the module's docstring)."""
        with self._lock:
            self._dead_letters += 1
        self._metrics.dead_letter()
        log.error("dead letter: the record of activation %s (%s) is not stored: %s", doc.get("activationId"),
                  doc.get("namespace"), why)

    def status(self) -> dict[str, Any]:
        """What this invoker announces: its pool, threads, the activations running now and its dead letters."""
        with self._lock:
            in_flight, dead_letters = self._in_flight, self._dead_letters
        return {**self.invoker.status(), "in_flight": in_flight, "dead_letters": dead_letters}

    def close(self) -> None:
        self.invoker.close()
