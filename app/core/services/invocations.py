"""Invoking an action: resolve it, merge parameters, hand it to an invoker, and wait if asked to."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.core.compositions import begin, is_conductor
from app.core.credentials import carries_key, key_refused, may_take_key
from app.core.entities import SEQUENCE, Action, Activation, annotation, new_activation_id, now_ms
from app.core.errors import Conflict, Forbidden, Invalid, NotFound, StoreError
from app.core.identities import Identity
from app.core.invocation import ResolvedAction
from app.core.limits import WINDOW_MS, check_concurrent, check_rate, in_flight_ttl_ms, window_key
from app.core.manifest import RuntimeManifest
from app.core.names import EntityPath
from app.core.ports import (
    NOT_SENT,
    Ahead,
    CompositionStarter,
    Dispatcher,
    EntityStore,
    InFlight,
    RateCounter,
    SharedWrite,
)
from app.core.sequences import component_path
from app.core.services.compositions import start_event
from app.core.services.resolution import Resolver

log = logging.getLogger(__name__)

RESERVED_MESSAGE = "Request defines parameters that are not allowed (e.g., reserved properties)."


@dataclass(frozen=True)
class _Rate:
    """The invocations-per-minute count an invoke takes: ``command`` when it can travel with the placement."""

    namespace: str
    key: str
    ttl_s: int
    received: int
    command: SharedWrite | None


@dataclass
class _Slot:
    """An activation's place among its namespace's activations in flight; ``counted`` once it holds one."""

    namespace: str
    activation_id: str
    timeout_ms: int
    counted: bool = False


@dataclass(frozen=True)
class InvokeOutcome:
    activation_id: str
    activation: Activation | None  # when a blocking invoke finished in time (logs follow with the record)


class InvocationService:
    def __init__(self, entities: EntityStore, dispatcher: Dispatcher, manifest: RuntimeManifest,
                 max_wait_ms: int = 60_000, compositions: CompositionStarter | None = None, *,
                 counter: RateCounter | None = None, invocations_allowed: Callable[[str], int] | None = None,
                 inflight: InFlight | None = None, concurrent_allowed: Callable[[str], int] | None = None,
                 records_kept: Callable[[str], bool] = lambda namespace: True,
                 accepted: Callable[[str, str], None] | None = None) -> None:
        self._entities = entities
        self._dispatcher = dispatcher
        self._manifest = manifest
        self.max_wait_ms = max_wait_ms
        self._compositions = compositions
        self._resolver = Resolver(entities)
        self._counter = counter
        self._invocations_allowed = invocations_allowed
        self._inflight = inflight if concurrent_allowed is not None else None
        self._concurrent_allowed = concurrent_allowed
        self.records_kept = records_kept  # per namespace: storeActivations (its override, else true)
        # Told (namespace, kind) of each activation handed to an invoker or a composition: the controller's metrics.
        self._accepted = accepted

    def invoke(self, identity: Identity, path: EntityPath, payload: dict[str, Any], *, blocking: bool,
               wait_ms: int | None = None, transaction_id: str, api_key: str | None = None,
               resolved: ResolvedAction | None = None) -> InvokeOutcome:
        """Publish one activation; when ``blocking``, wait up to ``wait_ms`` for it to finish.

        ``resolved``: ``path`` as ``identity`` resolves it (``Resolver.resolve_action``), when the caller has just
        done so (a web action, looked up to read its annotations): not resolved twice, which would cost a second
        revision check in the entity cache, a round trip to Redis.

        Raises ``Forbidden``/``NotFound`` for the action or for handing the caller's key to another namespace's
        code (``app.core.credentials``), ``Invalid`` for a forbidden parameter override, ``Unavailable`` when no
        invoker can take it, ``Throttled`` past the namespace's invocations per minute or concurrent invocations.
        """
        received = now_ms()
        rate = self._rate(identity.namespace, received)
        if rate is not None and rate.command is None:
            self._count(rate)  # 429 past invocationsPerMinute, before anything else is looked at
        try:
            if resolved is None:
                resolved = self._resolver.resolve_action(identity, path)  # package/binding rights, inherited params
            action = resolved.action
            if action.exec.kind not in ("blackbox", "sequence"):
                self._manifest.resolve(action.exec.kind)  # deprecated kinds may not be invoked
            if annotation(action.annotations, "final") is True:
                defined = set(resolved.parameters())
                if defined & payload.keys():
                    raise Invalid(RESERVED_MESSAGE)
            if carries_key(payload, api_key) and not may_take_key(action, identity.namespace):
                # A feed that is not ours would collect the caller's key: say so rather than run it without.
                raise Forbidden(key_refused(action))
        except Exception:
            if rate is not None and rate.command is not None:
                self._count(rate)  # still counted, and its 429 still answers first, as OpenWhisk's throttle does
            raise

        activation_id = new_activation_id()
        composition = action.exec.kind == SEQUENCE or is_conductor(action)
        if rate is not None and rate.command is not None and composition:
            self._count(rate)  # no placement here for the count to travel with
        if action.exec.kind == SEQUENCE:
            self._check_concurrent(identity.namespace)
            # OpenWhisk hands a sequence's first component the request payload alone: the sequence's own
            # parameters ("_actions", its components) and its package's never reach it (SequenceActions).
            self._start_composition(identity, action, payload, activation_id, transaction_id, api_key, received)
        elif is_conductor(action):
            self._check_concurrent(identity.namespace)
            self._start_composition(identity, action, resolved.parameters(payload), activation_id, transaction_id,
                                    api_key, received)
        else:
            slot = _Slot(identity.namespace, activation_id, action.limits.timeout)
            ahead = self._ahead(rate, slot)
            if ahead is None:
                slot.counted = self._take_slot(slot.namespace, activation_id, slot.timeout_ms)
            try:
                self._publish(identity, resolved, payload, activation_id, transaction_id, api_key, blocking,
                              received, ahead)
            except BaseException:
                if slot.counted:  # not accepted: it will never end, so nothing else would give its slot back
                    self._release(identity.namespace, activation_id)
                raise
        if self._accepted is not None:
            self._accepted(identity.namespace, action.exec.kind)
        if not blocking:
            return InvokeOutcome(activation_id, None)
        wait = min(wait_ms if wait_ms is not None else self.max_wait_ms, self.max_wait_ms)
        return InvokeOutcome(activation_id, self._wait(activation_id, wait / 1000))

    def _take_slot(self, namespace: str, activation_id: str, timeout_ms: int) -> bool:
        """Count the activation in flight for ``namespace`` (the invoker that runs it releases it at its end).
        Raises ``Throttled`` when ``concurrentInvocations`` are in flight already; False when it is not counted
        (no limit here, or Redis away: the throttle fails open, as the per-minute one does)."""
        if self._inflight is None or self._concurrent_allowed is None:
            return False
        allowed = self._concurrent_allowed(namespace)
        try:
            count = self._inflight.acquire(namespace, activation_id, in_flight_ttl_ms(timeout_ms), allowed)
        except StoreError as e:  # the outage is logged once by the counter
            log.debug("activation %s of %s not counted in flight: %s", activation_id, namespace, e)
            return False
        check_concurrent(count, allowed, namespace)  # 429 past concurrentInvocations; nothing was added then
        return True

    def _rate(self, namespace: str, received: int) -> _Rate | None:
        """The invocations-per-minute count this invoke takes, or None when there is no such throttle."""
        if self._counter is None or self._invocations_allowed is None:
            return None
        key, ttl_s = window_key("invocations", namespace, received), WINDOW_MS // 1000 + 5
        return _Rate(namespace, key, ttl_s, received, self._counter.increment_later(key, ttl_s))

    def _count(self, rate: _Rate) -> None:
        """Count the invoke in its own round trip; raises ``Throttled`` past invocationsPerMinute."""
        assert self._counter is not None
        try:
            count = self._counter.increment(rate.key, rate.ttl_s)
        except StoreError as e:  # the counter is protection, not the service: fail open, loudly
            log.warning("invocations of %s not counted: %s", rate.namespace, e)
        else:
            self._check_rate(rate, count)

    def _check_rate(self, rate: _Rate, count: int) -> None:
        assert self._invocations_allowed is not None
        check_rate(count, self._invocations_allowed(rate.namespace), "invocations", rate.namespace,
                   now_ms=rate.received)

    def _ahead(self, rate: _Rate | None, slot: _Slot) -> Ahead | None:
        """The throttle's count and the in-flight slot as calls to travel with the activation's placement (one
        round trip to Redis for all three), or None when neither can (then each makes its own call)."""
        counting = rate if rate is not None and rate.command is not None else None
        limited = self._inflight is not None and self._concurrent_allowed is not None
        allowed = self._concurrent_allowed(slot.namespace) if self._concurrent_allowed is not None else -1
        acquire: SharedWrite | None = None
        if self._inflight is not None and limited:
            acquire = self._inflight.acquire_later(slot.namespace, slot.activation_id,
                                                   in_flight_ttl_ms(slot.timeout_ms), allowed)
        commands = tuple(c for c in (counting.command if counting else None, acquire) if c is not None)
        if not commands:
            return None  # the caller takes the slot on its own

        def then(replies: object) -> None:
            if replies is NOT_SENT:  # each call on its own, in the order they are checked in
                if counting is not None:
                    self._count(counting)
                if limited:
                    slot.counted = self._take_slot(slot.namespace, slot.activation_id, slot.timeout_ms)
                return
            got = iter(replies if isinstance(replies, list) else [replies] * len(commands))
            counted_reply = next(got) if counting is not None else None
            slot_reply = next(got) if acquire is not None else None
            if acquire is not None:
                if isinstance(slot_reply, int):
                    slot.counted = slot_reply < allowed  # the script added it only then
                else:  # the round trip or the call failed: fails open, as ``_take_slot`` does
                    log.debug("activation %s of %s not counted in flight: %r", slot.activation_id, slot.namespace,
                              slot_reply)
            if counting is not None:
                try:
                    if isinstance(counted_reply, int):
                        self._check_rate(counting, counted_reply)  # 429 past invocationsPerMinute
                    else:  # counted where it can be now (the counter's outage, if that is one, is its to tell)
                        self._count(counting)
                except BaseException:
                    if slot.counted:  # refused: it will never run, so nothing else gives its slot back
                        slot.counted = False
                        self._release(slot.namespace, slot.activation_id)
                    raise
            if acquire is not None and isinstance(slot_reply, int):
                check_concurrent(slot_reply, allowed, slot.namespace)  # 429 past the limit: nothing was added then
            elif limited and acquire is None:  # the slot could not travel: taken now, after the count's check
                slot.counted = self._take_slot(slot.namespace, slot.activation_id, slot.timeout_ms)

        return Ahead(commands, then)

    def _check_concurrent(self, namespace: str) -> None:
        """A sequence or conductor action starts only below the limit, but is not counted itself: its components
        are, as they run (OpenWhisk throttles the composition at entry, its components in the load balancer)."""
        if self._inflight is None or self._concurrent_allowed is None:
            return
        try:
            count = self._inflight.count(namespace)
        except StoreError as e:
            log.debug("activations in flight of %s not counted: %s", namespace, e)
            return
        check_concurrent(count, self._concurrent_allowed(namespace), namespace)

    def _release(self, namespace: str, activation_id: str) -> None:
        assert self._inflight is not None
        self._inflight.release(namespace, activation_id)

    def _wait(self, activation_id: str, timeout_s: float) -> Activation | None:
        """The finished activation, or None (the caller answers 202 with the id). The activation is published by
        now and will run: whatever goes wrong in the wait, the caller must get its id, never an error."""
        try:
            return self._dispatcher.wait(activation_id, timeout_s)
        except Exception:
            log.exception("waiting for %s failed; answering with its id", activation_id)
            return None

    def _publish(self, identity: Identity, resolved: ResolvedAction, payload: dict[str, Any],
                 activation_id: str, transaction_id: str, api_key: str | None, blocking: bool,
                 received: int, ahead: Ahead | None = None) -> None:
        self._dispatcher.publish(resolved.message(
            activation_id=activation_id, transaction_id=transaction_id, namespace=identity.namespace,
            subject=identity.subject, payload=payload, blocking=blocking, received_ms=received, api_key=api_key,
            store_record=self.records_kept(identity.namespace)), ahead)

    def _start_composition(self, identity: Identity, action: Action, payload: dict[str, Any], activation_id: str,
                           transaction_id: str, api_key: str | None, received: int) -> None:
        """Hand a sequence or conductor invocation to a composition step; its record and result come from there.

        Raises ``Forbidden`` for a sequence component the caller may not invoke (OpenWhisk checks them here).
        """
        if self._compositions is None:
            raise Invalid("Sequences and conductor actions are not available on this controller.")
        for name in action.exec.components:
            # Rights only: a component deleted since is the composition's to record (502), not a 404 here.
            with contextlib.suppress(NotFound, Conflict):
                self._resolver.resolve_action(identity, component_path(name, action.path.namespace))
        continuation = begin(action, activation_id=activation_id, namespace=identity.namespace,
                             subject=identity.subject, transaction_id=transaction_id, api_key=api_key, start=received,
                             store_records=self.records_kept(identity.namespace))
        key = f"{identity.namespace}|{action.path.doc_id}"
        self._compositions.publish_step(start_event(continuation, payload), key)
