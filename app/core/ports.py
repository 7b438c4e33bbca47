"""The ports the use cases need, as narrow Protocols. Implementations: ``app.store`` (CouchDB),
``tasks.dispatch`` (Celery). Each store implementation passes ``tests/contract``.

Documents are plain JSON dicts at this boundary; ``app.core.entities`` converts them.
Every method raises ``NotFound``, ``Conflict`` or ``StoreError`` (never a client library's error).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from app.core.entities import Activation, ActivationMessage, Document
from app.core.identities import Identity, Subject
from app.core.invokers import InvokerStatus


class SubjectStore(Protocol):
    def put_subject(self, subject: Subject) -> Subject:
        """Create or update (``subject.rev`` must match); returns it with the new rev. Raises ``Conflict``."""

    def get_subject(self, name: str) -> Subject:
        """Raises ``NotFound``."""

    def delete_subject(self, subject: Subject) -> None:
        """Raises ``NotFound`` or ``Conflict`` (stale rev)."""

    def list_subjects(self) -> list[Subject]: ...

    def identity_by_uuid(self, uuid: str) -> Identity:
        """The namespace key with this uuid. Raises ``NotFound``."""

    def identity_by_namespace(self, namespace: str) -> Identity:
        """The key of namespace ``namespace`` (the owner a web action runs as), of a subject that is not
        blocked; when several subjects hold the namespace, the first by subject name. Raises ``NotFound``."""

    def get_limits(self, namespace: str) -> dict[str, int]:
        """The namespace's stored limit overrides (``invocationsPerMinute`` …), ``{}`` when none."""

    def put_limits(self, namespace: str, limits: dict[str, int]) -> None:
        """Replace the namespace's overrides; ``{}`` removes them."""

    def shared_secret(self, name: str, candidate: str) -> str:
        """The secret stored under ``name``; the first caller stores ``candidate``, every later one (any
        process) gets that same value back. For secrets all controllers must agree on (session signing)."""


class EntityStore(Protocol):
    def get_entity(self, doc_id: str) -> Document:
        """The document with its ``_rev``. Raises ``NotFound``."""

    def put_entity(self, doc: Document) -> str:
        """Create (no ``_rev``) or update (matching ``_rev``); returns the new rev. Raises ``Conflict``.

        ``doc["_attachments"]`` (``app.core.attachments.detach``) names the attachments the new revision has:
        ``{"content_type", "data": bytes}`` for new ones, ``{"stub": true}`` for ones kept from the revision
        ``_rev`` names; any other attachment of the document is dropped. Readers of any revision see that
        revision's attachments only."""

    def get_attachment(self, doc_id: str, rev: str, name: str) -> bytes:
        """The bytes of attachment ``name`` of revision ``rev``. Raises ``NotFound`` when that revision (or a
        later one that kept it) no longer has it."""

    def delete_entity(self, doc_id: str, rev: str) -> None:
        """Raises ``NotFound`` or ``Conflict``; the document's attachments go with it."""

    def list_entities(self, namespace: str, entity_type: str, skip: int, limit: int) -> list[Document]:
        """Entities of one type whose namespace is ``namespace`` or ``namespace/<package>``, newest first."""

    def count_entities(self, namespace: str, entity_type: str) -> int: ...


class ActivationStore(Protocol):
    def put_activation(self, doc: Document) -> None:
        """Store a record; storing the same activation twice is a no-op (redeliveries)."""

    def put_activations(self, docs: list[Document]) -> list[str | None]:
        """Store several records at once; per doc None when stored (now, or before: a redelivery), else why
        not. Raises ``StoreError`` when the store cannot be asked at all."""

    def get_activation(self, namespace: str, activation_id: str) -> Document:
        """Raises ``NotFound``."""

    def list_activations(self, namespace: str, name: str | None, since: int | None, upto: int | None,
                         skip: int, limit: int) -> list[Document]:
        """Newest first by ``start``; ``name`` is ``action`` or ``pkg/action``; since/upto bound ``start`` (ms)."""

    def count_activations(self, namespace: str, name: str | None, since: int | None, upto: int | None) -> int: ...


class ExpiringActivations(Protocol):
    """What the retention sweep needs of the activation store (``app.core.services.retention``)."""

    def activation_namespaces(self) -> list[str]:
        """Every namespace that has records, in order (those of deleted namespaces too)."""

    def delete_activations_before(self, namespace: str, before_ms: int, limit: int) -> int:
        """Delete at most ``limit`` of ``namespace``'s records that started before ``before_ms``, oldest first;
        how many were deleted (one deleted meanwhile by another sweep is not counted)."""


class CompositionStarter(Protocol):
    def publish_step(self, step: dict[str, Any], key: str) -> None:
        """Publish a ``squall.composition_step`` task (kwargs ``step``) to the home queue of ``key``; returns once
        the broker confirmed. Raises ``Unavailable``."""


class Dispatcher(CompositionStarter, Protocol):
    """Hands activations (and composition steps) to invokers and hands their results back."""

    def publish(self, message: ActivationMessage, ahead: Ahead | None = None) -> None:
        """Hand the activation to an invoker; returns once the broker confirmed. Raises ``Unavailable``.

        With ``ahead``, calls ``ahead.then`` once, before anything is published, with the replies to
        ``ahead.commands`` sent in the same round trip as the placement, or with ``NOT_SENT`` (then the caller makes
        those calls itself); whatever ``then`` raises stops the publish, and is raised."""

    def wait(self, activation_id: str, timeout_s: float) -> Activation | None:
        """The finished activation (as its result was published: logs follow with the stored record), or None
        if it did not finish within ``timeout_s`` or the result backend cannot be reached. Returns by the deadline
        whatever the backend does, and raises nothing: the activation was published and will run."""

    def peek(self, activation_id: str) -> Activation | None:
        """The finished activation if the result backend still holds it, else None (also when it cannot be
        reached)."""


class RateCounter(Protocol):
    def increment(self, key: str, ttl_s: int) -> int:
        """Add one to ``key`` (created with a time to live of ``ttl_s``) and return the new count.
        Raises ``StoreError``."""

    def increment_later(self, key: str, ttl_s: int) -> SharedWrite | None:
        """``increment``, as a command for the next round trip to the shared state, whose integer reply is the new
        count; None when it cannot travel so (counts of this process only, or Redis is away): then call
        ``increment``. Never raises."""

    def close(self) -> None: ...


SharedWrite = tuple[str | bytes | int, ...]
"""One write to the shared state (a Redis command and its arguments) that its owner hands to whoever makes the
next round trip to the same store: the writes an activation's end needs before its caller wakes (keep the record,
leave the namespace's count) then travel with the result, in one round trip (``tasks.results.hand_back``)."""

NOT_SENT = None
"""The reply ``Ahead.then`` gets when its command could not travel with the round trip: the owner makes the call
itself."""


@dataclass(frozen=True)
class Ahead:
    """Calls to the shared state that travel ahead of the activation's placement, in its round trip (the throttle's
    count, ``RateCounter.increment_later``; the in-flight slot, ``InFlight.acquire_later``). ``then`` gets their
    replies as a list in the same order (each one an exception where Redis answered with an error), a
    ``StoreError`` when the round trip failed, or ``NOT_SENT``."""

    commands: tuple[SharedWrite, ...]
    then: Callable[[object], None]


class InFlight(Protocol):
    """Each namespace's activations in flight, shared by every controller and invoker (``app.state.inflight``):
    what the ``concurrentInvocations`` throttle counts. An activation is added when it is accepted and removed
    when it ends; one never removed stops counting at the deadline it was added with, so none leaks for ever."""

    def acquire(self, namespace: str, activation_id: str, ttl_ms: int, allowed: int | None) -> int:
        """How many of ``namespace``'s activations are in flight (past their deadline ones no longer count); when
        fewer than ``allowed`` (always, when ``allowed`` is None), ``activation_id`` is added to them, to count
        until it is released or ``ttl_ms`` has passed. Count and add are one step for every process.
        Raises ``StoreError``."""

    def count(self, namespace: str) -> int:
        """How many of ``namespace``'s activations are in flight. Raises ``StoreError``."""

    def release(self, namespace: str, activation_id: str) -> None:
        """The activation ended: it no longer counts (nothing happens for one not counted). Never raises: a release
        that cannot be made now is made later, or the activation's deadline ends it."""

    def release_later(self, namespace: str, activation_id: str) -> SharedWrite | None:
        """``release``, as a write for the next round trip to the shared state; None when it was made now (state
        of this process only, or owed releases to catch up on). Never raises."""

    def acquire_later(self, namespace: str, activation_id: str, ttl_ms: int, allowed: int | None) -> SharedWrite | None:
        """``acquire``, as a command for the next round trip to the shared state, whose integer reply is what
        ``acquire`` returns; None when it cannot travel so (state of this process only, or Redis is away): then
        call ``acquire``. Never raises."""

    def close(self) -> None: ...


class AlarmStore(Protocol):
    """Alarm schedules (``app.core.alarms``), one per trigger, keyed by the trigger's ``ns/name``."""

    def get_alarm(self, trigger_id: str) -> Document:
        """Raises ``NotFound``."""

    def put_alarm(self, doc: Document) -> str:
        """Create (no ``_rev``) or update (matching ``_rev``, the scheduler's claim); returns the new rev.
        Raises ``Conflict`` when the rev is stale: someone else changed or claimed it first."""

    def delete_alarm(self, trigger_id: str, rev: str) -> None:
        """Raises ``NotFound`` or ``Conflict``."""

    def due_alarms(self, now_ms: int, limit: int) -> list[Document]:
        """Active alarms whose ``next_fire`` is at or before ``now_ms``, earliest first."""

    def next_alarm_time(self) -> int | None:
        """The earliest ``next_fire`` of any active alarm, or None when there is none."""


class ResultSink(Protocol):
    def store_result(self, activation_id: str, activation: dict[str, Any]) -> None:
        """Hand a finished activation's API document to whoever waits on ``activation_id`` (``Dispatcher.wait``)."""


class InvokerMonitor(Protocol):
    def invokers(self) -> list[InvokerStatus]:
        """Every known invoker (the configured queues and whoever answered), unhealthy ones included."""


class StepLedger(Protocol):
    """Which composition steps were carried out, so a step delivered twice advances its composition once."""

    def done(self, key: str) -> bool:
        """True once ``mark_done(key)`` was called. Raises ``Unavailable``."""

    def mark_done(self, key: str) -> None:
        """Raises ``Unavailable``."""

    def close(self) -> None: ...


class StartJournal(Protocol):
    """Which activations an invoker has begun to run, so a redelivered message never runs its action twice, and
    the record of each that ran to its end until that record is stored (a redelivery then stores it)."""

    def claim(self, activation_id: str) -> bool:
        """True the first time for an activation id, False ever after. Raises ``Unavailable``."""

    def keep(self, activation_id: str, doc: Document) -> None:
        """Hold the record of a claimed activation that ran, until ``forget``. Raises ``Unavailable``."""

    def keep_later(self, activation_id: str, doc: Document) -> SharedWrite | None:
        """``keep``, as a write for the next round trip to the shared state (which must then be made before anything
        else about the activation is); None when it was kept now. Raises ``Unavailable``."""

    def kept(self, activation_id: str) -> Document | None:
        """The record ``keep`` holds for the activation, if any. Raises ``Unavailable``."""

    def forget(self, activation_id: str) -> None:
        """Its record is stored: drop what ``keep`` held (the claim stays). Raises ``Unavailable``."""

    def forget_later(self, activation_id: str) -> None:
        """``forget``, made with a later round trip to the shared state (``forgotten``), or now. Never raises: a
        drop that is never made leaves the kept record to expire."""

    def forgotten(self) -> SharedWrite | None:
        """The drops ``forget_later`` left, as one write for the next round trip (they are handed over: made by
        whoever sends it); None when there are none."""

    def close(self) -> None: ...


class Revisions(Protocol):
    """The current revision of each entity, shared by every controller (``app.store.cached``)."""

    def current(self, doc_id: str) -> str | None:
        """The recorded revision (or deletion marker), or None. Raises ``StoreError``."""

    def record(self, doc_id: str, rev: str) -> None:
        """A write happened: ``rev`` is current. Raises ``StoreError``."""

    def offer(self, doc_id: str, rev: str) -> None:
        """A read found ``rev``: record it unless something is recorded already. Raises ``StoreError``."""

    def close(self) -> None: ...


class FollowUps(Protocol):
    """What happens after an invoker ran an activation, carried by the deployment's transport (Celery tasks on the
    invoker's queue, or standalone's spool and thread pool). Used by ``workers.completion``."""

    def keep_record(self, doc: Document) -> None:
        """Keep a record the store refused, durably, so that it is stored later. Raises ``Unavailable``."""

    def continue_composition(self, event: dict[str, Any]) -> None:
        """Carry a composition on after one of its components finished (a ``completed_event``)."""


class InvokerRegistry(Protocol):
    """Who the invokers are and how much room each has, shared by every controller and invoker
    (``app.state.registry``). A report is the JSON an invoker announces (``app.core.invokers.InvokerStatus``)."""

    def announce(self, report: dict[str, Any], ttl_s: float) -> None:
        """``report["name"]`` is alive for ``ttl_s`` more seconds, with this report. Raises ``StoreError``."""

    def leave(self, name: str, owner: str = "") -> None:
        """``name`` stopped on purpose: out of placement at once, its queue to be handed off. With ``owner``, only
        while the live report is the one announced with that ``report["owner"]``: an invoker restarted under the
        same name may have announced itself while the old process still drained."""

    def reports(self) -> dict[str, dict[str, Any]]:
        """The latest report of every invoker that announced itself within its time to live."""

    def departed(self) -> list[str]:
        """Invokers that announced themselves once and fell silent (or left): their queues are handed off."""

    def forget(self, name: str) -> None:
        """Stop tracking a departed invoker (its queue stayed empty long enough)."""

    def reset(self, name: str) -> None:
        """An invoker (re)starts: nothing is reserved on it."""

    def reserve(self, name: str, memory_mb: int, capacity_mb: int, threads: int) -> bool:
        """Take ``memory_mb`` and one thread on ``name`` if both fit its capacity; counts a placement."""

    def reserve_after(self, ahead: tuple[SharedWrite, ...], name: str, memory_mb: int, capacity_mb: int,
                      threads: int) -> tuple[object, bool]:
        """``ahead`` (other shared-state commands), then ``reserve``, in one round trip: (``ahead``'s replies as a
        list, each the error Redis answered it with where it did, or ``NOT_SENT`` where the registry is not where
        ``ahead`` goes; what ``reserve`` returns). Raises ``StoreError`` when the round trip failed (``ahead`` may
        have been made)."""

    def placed(self, name: str) -> None:
        """Count a placement that reserved nothing (every invoker was full)."""

    def release(self, name: str, memory_mb: int) -> None:
        """Give back what ``reserve`` took (the activation ended)."""

    def placements(self, name: str) -> int:
        """Placements on ``name`` in the last full minute."""

    def claim_handoff(self, name: str, holder: str, ttl_s: float) -> bool:
        """True when ``holder`` may hand off ``name``'s queue now (one holder at a time)."""

    def close(self) -> None: ...
