"""Running sequences and conductor actions as continuations: the pure state machine.

OpenWhisk runs a sequence in the controller, which waits on each component in turn. Squall does not let
any thread wait: the state of a running composition travels *with the work*. The controller starts it
by publishing one ``squall.composition_step`` task; each component is an ordinary invoke whose message
carries a ``Continuation`` (``ActivationMessage.continuation``); when the component is done its invoker
publishes the next step with the component's outcome. A step resolves and publishes the next
component, or finishes the composition: it stores the sequence's own record and puts its result in the
result backend under the sequence's activation id, where a blocking caller is waiting. Every message
is acknowledged only after the next one is published, so a crashed worker's message is redelivered and
the composition resumes; activation ids of components are derived from the composition's id and the
step number, so a step published twice runs its component once (the invoker's start journal), and a
step is marked done once carried out (``ports.StepLedger``), so a completion delivered twice advances
the composition once.

Alternatives weighed: a controller thread waiting on each component (OpenWhisk's way) loses accepted
compositions when the controller restarts and pins a thread even for non-blocking calls; a worker task
waiting on each component pins an invoker thread the same way and can starve a full pool; a Celery chain
cannot stop on an ``error`` result, resolve nested sequences at run time, or follow a conductor, whose
next step is known only when it answers.

A ``Continuation`` is a stack of ``Frame``s: the outermost composition at the bottom, a nested sequence
or conductor on top of the one that invoked it. ``Composer.start`` and ``Composer.completed`` turn an
event into ``Effect``s (publish this invoke, store this record) for the I/O shell in
``app.core.services.compositions`` to carry out. Semantics follow OpenWhisk's ``SequenceActions`` and
``PrimitiveActions.invokeComposition``: a sequence passes each component's result to the next and stops at the
first error; a conductor's ``{"action", "params", "state"}`` result names the next component
(https://github.com/apache/openwhisk/blob/master/docs/actions.md#creating-action-sequences,
https://github.com/apache/openwhisk/blob/master/docs/conductors.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from app.core.entities import (
    SEQUENCE,
    Action,
    Activation,
    ActivationMessage,
    Document,
    Status,
    annotation,
    now_ms,
)
from app.core.errors import Forbidden, Invalid, NotFound
from app.core.invocation import ResolvedAction
from app.core.names import EntityPath
from app.core.sequences import COMPONENT_NOT_FOUND, DEFAULT_MAX_LENGTH, TOO_LONG

CONDUCTOR = "conductor"
SEQUENCE_FAILED = "Sequence failed."
COMPOSITION_TOO_LONG = "Too many actions in the composition."
COMPOSITION_FAILED = "Activation failure during composition."


def component_invalid(value: Any) -> str:
    return f"Failed to parse action name from json value {json.dumps(value, separators=(',', ':'))} during composition."


def component_not_found(name: str) -> str:
    return f"Failed to resolve action with name '{name}' during composition."


def component_not_accessible(name: str) -> str:
    return f"Failed entitlement check for action with name '{name}' during composition."


def is_conductor(action: Action) -> bool:
    """A conductor is an action (not a sequence) whose ``conductor`` annotation is truthy (docs/conductors.md)."""
    return action.exec.kind != SEQUENCE and annotation(action.annotations, CONDUCTOR) not in (None, False, 0, "")


def derive_id(parent: str, step: int) -> str:
    """The activation id of step ``step`` of composition ``parent``: 32 hex, the same every time it is asked."""
    return hashlib.sha256(f"{parent}/{step}".encode()).hexdigest()[:32]


# --- state ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One running sequence or conductor composition."""

    kind: str  # SEQUENCE or CONDUCTOR
    activation_id: str
    action: str  # doc id of the sequence or conductor action
    name: str
    version: str
    limits: dict[str, int]
    start: int
    cause: str | None  # the enclosing composition's activation id; None when topmost
    components: list[str] = field(default_factory=list)  # sequence: doc ids of its components
    position: int = 0  # sequence: index of the component running now
    logs: list[str] = field(default_factory=list)  # activation ids of the finished steps, in order
    duration: int = 0  # sum of the finished steps' durations
    max_memory: int | None = None
    state: dict[str, Any] | None = None  # conductor: the state to add to the next conductor input
    running_conductor: bool = True  # conductor: is the running step the conductor (else a component)?

    @property
    def topmost(self) -> bool:
        return self.cause is None

    def next_id(self) -> str:
        return derive_id(self.activation_id, len(self.logs))


@dataclass(frozen=True)
class Continuation:
    """The composition a component activation belongs to: who invoked it, the frames, the counters."""

    namespace: str  # the invoking namespace
    subject: str
    transaction_id: str
    api_key: str | None  # handed to components that ask for it (provide-api-key)
    frames: list[Frame]
    received: int = 0  # when the controller accepted the invocation (waitTime)
    atomic: int = 0  # atomic actions run so far (sequence limit)
    components: int = 0  # component activations so far (conductor limit)
    conductors: int = 0  # conductor activations so far (conductor limit)
    store_records: bool = True  # False: the namespace keeps no records (storeActivations), nor its components'

    def to_dict(self) -> Document:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Document) -> Continuation:
        frames = [Frame(**f) for f in data["frames"]]
        return cls(**{**data, "frames": frames})


@dataclass(frozen=True)
class StepOutcome:
    """What the composition needs to know of a finished step."""

    activation_id: str
    status: Status
    result: Any
    duration: int
    memory: int | None

    @classmethod
    def of(cls, activation: Activation) -> StepOutcome:
        limits = annotation(activation.annotations, "limits")
        memory = limits.get("memory") if isinstance(limits, dict) else None
        return cls(activation.activation_id, activation.status, activation.result, activation.duration,
                   memory if isinstance(memory, int) else None)

    def to_dict(self) -> Document:
        return {"activation_id": self.activation_id, "status": int(self.status), "result": self.result,
                "duration": self.duration, "memory": self.memory}

    @classmethod
    def from_dict(cls, data: Document) -> StepOutcome:
        return cls(data["activation_id"], Status(data["status"]), data.get("result"), int(data["duration"]),
                   data.get("memory"))


@dataclass(frozen=True)
class Invoke:
    """Effect: publish this activation message (a component or a conductor step)."""

    message: ActivationMessage
    timeout_ms: int = 60_000  # the action's, for how long it may count in flight at most


@dataclass(frozen=True)
class Record:
    """Effect: store this composition record (unless its namespace keeps none) and hand its result to whoever
    waits on its id."""

    activation: Activation
    store: bool = True


Effect = Invoke | Record
Payload = dict[str, Any] | list[Any]


Resolve = Callable[[EntityPath, str], ResolvedAction]
"""``resolve(path, namespace)``: the action at ``path`` as invoked by ``namespace``. Raises ``NotFound`` when it
does not exist (or is not an action) and ``Forbidden`` when ``namespace`` may not invoke it."""


def new_frame(action: Action, activation_id: str, cause: str | None, start: int) -> Frame:
    """The frame of a sequence or conductor action about to run; ``cause`` None makes it topmost."""
    limits = action.limits.to_doc()
    if action.exec.kind == SEQUENCE:
        components = [EntityPath.parse_fqn(c, action.path.namespace).doc_id for c in action.exec.components]
        return Frame(SEQUENCE, activation_id, action.path.doc_id, action.path.name, action.version, limits,
                     start, cause, components=components)
    return Frame(CONDUCTOR, activation_id, action.path.doc_id, action.path.name, action.version, limits,
                 start, cause, max_memory=action.limits.memory)


def begin(action: Action, *, activation_id: str, namespace: str, subject: str, transaction_id: str,
          api_key: str | None, start: int, store_records: bool = True) -> Continuation:
    """The continuation of a topmost sequence or conductor invocation, before its first step."""
    return Continuation(namespace, subject, transaction_id, api_key, [new_frame(action, activation_id, None, start)],
                        received=start, store_records=store_records)


# --- the machine ------------------------------------------------------------------------------------


class Composer:
    """Turns composition events into effects. ``max_length`` is OpenWhisk's sequence limit n: a sequence runs
    at most n atomic actions, a conductor composition at most n components and 2n+1 conductor steps."""

    def __init__(self, resolve: Resolve, max_length: int = DEFAULT_MAX_LENGTH,
                 clock: Callable[[], int] = now_ms) -> None:
        self._resolve = resolve
        self._max = max_length
        self._clock = clock

    def start(self, cont: Continuation, payload: dict[str, Any]) -> list[Effect]:
        """Run the first step of the top frame on ``payload``."""
        effects: list[Effect] = []
        # The composition starts now, when its first step is taken: waitTime is the time it queued.
        cont = self._replace_top(cont, replace(cont.frames[-1], start=max(self._clock(), cont.received)))
        self._enter(cont, payload, effects)
        return effects

    def completed(self, cont: Continuation, outcome: StepOutcome) -> list[Effect]:
        """The running step of the top frame finished with ``outcome``: go on, or finish frames."""
        effects: list[Effect] = []
        self._after_step(cont, outcome, effects)
        return effects

    # --- frames ---

    def _enter(self, cont: Continuation, payload: Payload, effects: list[Effect]) -> None:
        frame = cont.frames[-1]
        if frame.kind == SEQUENCE:
            self._sequence_step(cont, payload, effects)
        else:
            self._conductor_step(cont, payload if isinstance(payload, dict) else {}, effects)

    @staticmethod
    def _replace_top(cont: Continuation, frame: Frame) -> Continuation:
        return replace(cont, frames=[*cont.frames[:-1], frame])

    def _after_step(self, cont: Continuation, outcome: StepOutcome, effects: list[Effect]) -> None:
        frame = cont.frames[-1]
        memory = frame.max_memory
        if outcome.memory is not None:
            memory = outcome.memory if memory is None else max(memory, outcome.memory)
        frame = replace(frame, logs=[*frame.logs, outcome.activation_id], duration=frame.duration + outcome.duration,
                        max_memory=memory)
        cont = self._replace_top(cont, frame)
        if frame.kind == SEQUENCE:
            result = outcome.result
            failed = outcome.status != Status.SUCCESS or (isinstance(result, dict) and "error" in result)
            if failed or frame.position + 1 >= len(frame.components):
                self._finish(cont, outcome.status, result, effects)  # the first error ends it
            else:
                cont = self._replace_top(cont, replace(frame, position=frame.position + 1))
                # An object or an array is passed on (an array as it is); anything else passes nothing.
                self._sequence_step(cont, result if isinstance(result, dict | list) else {}, effects)
        elif frame.running_conductor:
            self._conducted(cont, outcome, effects)
        elif isinstance(outcome.result, dict):
            # The component's result (errors included) goes back to the conductor, with the state on top.
            self._conductor_step(cont, {**outcome.result, **(frame.state or {})}, effects)
        else:
            self._conductor_step(cont, {}, effects)  # OpenWhisk drops a non-object result, and the state with it

    def _finish(self, cont: Continuation, status: Status, result: Any, effects: list[Effect]) -> None:
        """End the top frame: its record, then the frame below (if any) goes on as if a step finished."""
        frame = cont.frames[-1]
        activation = self.record(cont, frame, status, result)
        effects.append(Record(activation, cont.store_records))
        if len(cont.frames) > 1:
            below = replace(cont, frames=cont.frames[:-1])
            self._after_step(below, StepOutcome(frame.activation_id, status, result, frame.duration,
                                                frame.max_memory), effects)

    def record(self, cont: Continuation, frame: Frame, status: Status, result: Any) -> Activation:
        """The record of ``frame`` (a sequence or conductor activation) ending with ``status`` and ``result``."""
        annotations: list[dict[str, Any]] = [
            {"key": "topmost", "value": frame.topmost},
            {"key": "path", "value": frame.action},
            {"key": "kind", "value": SEQUENCE},
        ]
        if frame.kind == CONDUCTOR:
            annotations.append({"key": "conductor", "value": True})
        if not frame.topmost:
            annotations.append({"key": "causedBy", "value": SEQUENCE})
        annotations.append({"key": "waitTime", "value": max(frame.start - cont.received, 0)})
        if frame.max_memory is not None:
            annotations.append({"key": "limits", "value": {**frame.limits, "memory": frame.max_memory}})
        return Activation.ended(
            namespace=cont.namespace, name=frame.name, version=frame.version, subject=cont.subject,
            activation_id=frame.activation_id, start=frame.start, end=max(self._clock(), frame.start),
            status=status, result=result, logs=list(frame.logs), annotations=annotations, cause=frame.cause,
            elapsed=frame.duration,
        )

    # --- steps ---

    def _invoke(self, cont: Continuation, resolved: ResolvedAction, payload: Payload,
                effects: list[Effect]) -> None:
        """Publish ``resolved`` as the next step of the top frame, carrying the continuation."""
        frame = cont.frames[-1]
        effects.append(Invoke(resolved.message(
            activation_id=frame.next_id(), transaction_id=cont.transaction_id, namespace=cont.namespace,
            subject=cont.subject, payload=payload, blocking=True, received_ms=self._clock(),
            api_key=cont.api_key, cause=frame.activation_id, continuation=cont.to_dict(),
            store_record=cont.store_records,
        ), resolved.action.limits.timeout))

    def _push(self, cont: Continuation, action: Action, payload: Payload, effects: list[Effect]) -> None:
        """Start a nested sequence or conductor as the running step of the top frame."""
        frame = cont.frames[-1]
        child = new_frame(action, frame.next_id(), frame.activation_id, self._clock())
        self._enter(replace(cont, frames=[*cont.frames, child]), payload, effects)

    def _sequence_step(self, cont: Continuation, payload: Payload, effects: list[Effect]) -> None:
        frame = cont.frames[-1]
        try:
            resolved = self._resolve(EntityPath.parse_fqn("/" + frame.components[frame.position], cont.namespace),
                                     cont.namespace)
        except (NotFound, Forbidden, Invalid):
            self._finish(cont, Status.APPLICATION_ERROR, {"error": COMPONENT_NOT_FOUND}, effects)
            return
        action = resolved.action
        if action.exec.kind == SEQUENCE:
            self._push(cont, action, payload, effects)
        elif cont.atomic >= self._max:
            self._finish(cont, Status.APPLICATION_ERROR, {"error": TOO_LONG}, effects)
        elif is_conductor(action):
            self._push(replace(cont, atomic=cont.atomic + 1), action, payload, effects)
        else:
            self._invoke(replace(cont, atomic=cont.atomic + 1), resolved, payload, effects)

    def _conductor_step(self, cont: Continuation, payload: dict[str, Any], effects: list[Effect]) -> None:
        """Run the top frame's conductor action on ``payload``."""
        frame = cont.frames[-1]
        if cont.conductors > 2 * self._max:
            self._finish(cont, Status.APPLICATION_ERROR, {"error": COMPOSITION_TOO_LONG}, effects)
            return
        try:
            resolved = self._resolve(EntityPath.parse_fqn("/" + frame.action, cont.namespace), cont.namespace)
        except (NotFound, Forbidden, Invalid):
            self._finish(cont, Status.APPLICATION_ERROR, {"error": COMPONENT_NOT_FOUND}, effects)
            return
        cont = replace(cont, conductors=cont.conductors + 1)
        cont = self._replace_top(cont, replace(frame, running_conductor=True))
        self._invoke(cont, resolved, payload, effects)

    def _conducted(self, cont: Continuation, outcome: StepOutcome, effects: list[Effect]) -> None:
        """The conductor answered: a continuation ``{action, params, state}``, or the end of the composition."""
        frame = cont.frames[-1]
        result = outcome.result if isinstance(outcome.result, dict) else {}
        params: dict[str, Any] | None = None
        if "params" in result:
            params = result["params"] if isinstance(result["params"], dict) else {"value": result["params"]}
        state: dict[str, Any] | None = None
        if "state" in result:
            state = result["state"] if isinstance(result["state"], dict) else {"state": result["state"]}
        cont = self._replace_top(cont, replace(frame, state=state))
        if "action" not in result:
            self._finish(cont, outcome.status, params if params is not None else outcome.result, effects)
            return
        name = result["action"]
        try:
            if not isinstance(name, str):
                raise Invalid(component_invalid(name))
            path = EntityPath.parse_fqn(name if name.startswith("/") or name.count("/") != 2 else "/" + name,
                                        cont.namespace)
        except Invalid:
            self._conductor_step(cont, {"error": component_invalid(name), **(state or {})}, effects)
            return
        if cont.components >= self._max:
            self._conductor_step(cont, {"error": COMPOSITION_TOO_LONG, **(state or {})}, effects)
            return
        try:
            resolved = self._resolve(path, cont.namespace)
        except Forbidden:
            self._conductor_step(cont, {"error": component_not_accessible(path.doc_id), **(state or {})}, effects)
            return
        except (NotFound, Invalid):
            self._conductor_step(cont, {"error": component_not_found(path.doc_id), **(state or {})}, effects)
            return
        cont = self._replace_top(cont, replace(cont.frames[-1], running_conductor=False))
        action = resolved.action
        if is_conductor(action):
            self._push(cont, action, params or {}, effects)  # nested conductors share the counters
        elif action.exec.kind == SEQUENCE:
            self._push(replace(cont, components=cont.components + 1), action, params or {}, effects)
        else:
            self._invoke(replace(cont, components=cont.components + 1), resolved, params or {}, effects)
