"""The I/O shell around ``app.core.compositions``: resolve actions, publish steps, store composition records.

It runs wherever a ``squall.composition_step`` task runs (an invoker process); the controller only
starts compositions (``InvocationService``). See ``app.core.compositions`` for the design.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from app.core.activity import log_line
from app.core.compositions import (
    COMPOSITION_FAILED,
    SEQUENCE_FAILED,
    Composer,
    Continuation,
    Effect,
    Invoke,
    Record,
    StepOutcome,
)
from app.core.entities import SEQUENCE, Activation, Status
from app.core.errors import Conflict, NotFound, StoreError, Unavailable
from app.core.invocation import ResolvedAction
from app.core.limits import in_flight_ttl_ms
from app.core.names import EntityPath
from app.core.ports import ActivationStore, Dispatcher, EntityStore, InFlight, ResultSink, StepLedger
from app.core.sequences import DEFAULT_MAX_LENGTH
from app.core.services.resolution import Resolver

log = logging.getLogger(__name__)

START = "start"
COMPLETED = "completed"


def start_event(cont: Continuation, payload: dict[str, Any]) -> dict[str, Any]:
    """The ``squall.composition_step`` kwargs that run a composition's first step."""
    return {"event": START, "continuation": cont.to_dict(), "payload": payload}


def completed_event(continuation: dict[str, Any], activation: Activation) -> dict[str, Any]:
    """The ``squall.composition_step`` kwargs after a step's activation finished."""
    return {"event": COMPLETED, "continuation": continuation, "outcome": StepOutcome.of(activation).to_dict()}


def resolve_action(entities: EntityStore, path: EntityPath, namespace: str) -> ResolvedAction:
    """The action at ``path`` as ``namespace`` invokes it: through own, public or bound packages, with the
    parameters it inherits (package < binding < action). Raises ``Forbidden`` or ``NotFound``."""
    try:
        return Resolver(entities).action_for(namespace, path)
    except Conflict:  # a name that is not an action
        raise NotFound() from None


class CompositionService:
    """Carries out one step of a composition: ``step(**event)`` with an event from ``start_event`` or
    ``completed_event``. Raises ``StoreError``/``Unavailable`` when a service is down (the task retries
    the whole step: every effect is idempotent, the ids are derived); any other failure ends the
    composition with a whisk internal error record rather than leaving it unfinished."""

    def __init__(self, entities: EntityStore, activations: ActivationStore, dispatcher: Dispatcher,
                 results: ResultSink, max_length: int = DEFAULT_MAX_LENGTH, ledger: StepLedger | None = None,
                 inflight: InFlight | None = None, finished: Callable[[Activation], None] | None = None) -> None:
        self._entities = entities
        self._activations = activations
        self._dispatcher = dispatcher
        self._results = results
        self._ledger = ledger
        self._inflight = inflight
        # Told each record a step produces (a sequence's, a conductor's): the invoker's metrics count them, as
        # they count every component's record.
        self._finished = finished
        self._composer = Composer(lambda path, ns: resolve_action(entities, path, ns), max_length)

    def step(self, event: str, continuation: dict[str, Any], payload: dict[str, Any] | None = None,
             outcome: dict[str, Any] | None = None) -> None:
        cont = Continuation.from_dict(continuation)
        # A component finishes once; a composition starts once. A second delivery of either is dropped.
        key = f"{cont.frames[-1].activation_id}/{outcome['activation_id'] if outcome else START}"
        if self._ledger is not None and self._ledger.done(key):
            log.info("composition step %s was carried out already", key)
            return
        try:
            if event == START:
                effects = self._composer.start(cont, payload or {})
            else:
                assert outcome is not None
                effects = self._composer.completed(cont, StepOutcome.from_dict(outcome))
        except (StoreError, Unavailable):
            raise
        except Exception:  # a bug of ours must still end in records, not in a caller waiting forever
            log.exception("composition step of %s failed", cont.frames[-1].activation_id)
            effects = self._abort(cont)
        for effect in effects:
            self._apply(effect, cont.transaction_id)
        if self._ledger is not None:
            self._ledger.mark_done(key)
        if self._finished is not None:  # once the step is done: a step retried after a failure counts once
            for effect in effects:
                if isinstance(effect, Record):
                    self._finished(effect.activation)

    def _count(self, effect: Invoke) -> bool:
        """Count a component in flight against its namespace's concurrentInvocations, never refusing it (the
        composition was admitted at its start, as OpenWhisk's components pass without a throttle check); the
        invoker that runs it releases it. False when not counted (Redis away: fail open)."""
        if self._inflight is None:
            return False
        message = effect.message
        try:
            self._inflight.acquire(message.namespace, message.activation_id, in_flight_ttl_ms(effect.timeout_ms),
                                   None)
        except StoreError as e:
            log.debug("component %s not counted in flight: %s", message.activation_id, e)
            return False
        return True

    def _abort(self, cont: Continuation) -> list[Effect]:
        """Whisk-error records for every open frame, innermost first."""
        records: list[Effect] = []
        for frame in reversed(cont.frames):
            message = SEQUENCE_FAILED if frame.kind == SEQUENCE else COMPOSITION_FAILED
            records.append(Record(self._composer.record(cont, frame, Status.WHISK_ERROR, {"error": message}),
                                  cont.store_records))
        return records

    def _apply(self, effect: Effect, transaction_id: str) -> None:
        if isinstance(effect, Invoke):
            counted = self._count(effect)
            try:
                self._dispatcher.publish(effect.message)
            except BaseException:
                if counted and self._inflight is not None:  # not published: its run would never release it
                    self._inflight.release(effect.message.namespace, effect.message.activation_id)
                raise
        elif isinstance(effect, Record):
            # The result first, so a blocking caller wakes at once; then the record.
            self._results.store_result(effect.activation.activation_id, effect.activation.to_api())
            if effect.store:
                self._activations.put_activation(effect.activation.to_doc())
            _log_record(effect.activation, transaction_id)



def _log_record(activation: Activation, transaction_id: str) -> None:
    """A sequence's or conductor's line, as each component has one (``workers.activation_log``)."""
    message, fields = log_line(activation, transaction_id)
    log.info("%s", message, extra=fields)
