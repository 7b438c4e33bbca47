"""Triggers: CRUD and fire (OpenWhisk ``Triggers.scala``;
https://github.com/apache/openwhisk/blob/master/docs/triggers_rules.md).

A fire answers with the trigger activation's id at once when at least one rule is active (204 otherwise, and
nothing is stored); each rule's action is invoked non-blocking as the caller, exactly like a normal invoke
(throttles, rights, its own activation). The trigger's record keeps one JSON log line per rule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from app.core.entities import Activation, Status, bump_patch, merge_parameters, new_activation_id, now_ms
from app.core.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    PlatformError,
    Throttled,
    Unauthorized,
)
from app.core.identities import Identity
from app.core.limits import WINDOW_MS, check_rate, window_key
from app.core.names import EntityPath, check_name
from app.core.ports import ActivationStore, EntityStore, RateCounter
from app.core.requests import TriggerPut, key_values
from app.core.rules import RuleStatus
from app.core.services.actions import SizeLimits, check_sizes, check_skip
from app.core.services.entitlement import check_owner
from app.core.services.invocations import InvocationService
from app.core.triggers import Trigger, rule_log_line

log = logging.getLogger(__name__)

FEED_NOT_VALID = "Feed name is not valid"
# Headers never forwarded in __ow_headers: the caller's credentials must not reach a rule's action, which may
# belong to another namespace (a public package).
_WITHHELD_HEADERS = frozenset({"authorization"})
# Errors that OpenWhisk's internal invoke would answer with a 4xx: logged as application errors (statusCode 1).
_CLIENT_ERRORS = (Invalid, Unauthorized, Forbidden, NotFound, Conflict, Throttled)


def inactive_rule(rule_id: str, action: EntityPath) -> str:
    return f"Rule '{rule_id}' is inactive, action '{action.doc_id}' was not activated."


def _sixty(_namespace: str) -> int:
    return 60  # OpenWhisk's default firesPerMinute


class TriggerService:
    def __init__(self, entities: EntityStore, activations: ActivationStore, invocations: InvocationService,
                 counter: RateCounter, fires_allowed: Callable[[str], int] = _sixty,
                 parameters_bytes: int = SizeLimits.parameters_bytes) -> None:
        self._entities = entities
        self._activations = activations
        self._invocations = invocations
        self._counter = counter
        self._fires_allowed = fires_allowed  # per namespace: the deployment's limit or its override
        self._parameters_bytes = parameters_bytes

    def get(self, identity: Identity, namespace: str, name: str) -> Trigger:
        check_owner(identity, namespace, name)
        return self.load(f"{namespace}/{check_name(name)}")

    def load(self, doc_id: str) -> Trigger:
        doc = self._entities.get_entity(doc_id)
        if doc.get("entityType") != "trigger":
            raise Conflict("Resource by this name exists but is not in this collection.")
        return Trigger.from_doc(doc)

    def list(self, identity: Identity, namespace: str, skip: int, limit: int) -> list[Trigger]:
        check_owner(identity, namespace)
        docs = self._entities.list_entities(namespace, "trigger", check_skip(skip, "triggers"), limit)
        return [Trigger.from_doc(d) for d in docs]

    def count(self, identity: Identity, namespace: str) -> int:
        check_owner(identity, namespace)
        return self._entities.count_entities(namespace, "trigger")

    def put(self, identity: Identity, namespace: str, name: str, body: TriggerPut, overwrite: bool) -> Trigger:
        """Create, or replace the given fields when ``overwrite`` (rules are kept). 409, 400 bad feed name."""
        check_owner(identity, namespace, name)
        check_name(name)
        parameters = key_values(body.parameters)
        annotations = key_values(body.annotations)
        check_sizes(self._parameters_bytes, parameters=parameters, annotations=annotations)  # before any read
        try:
            old: Trigger | None = self.load(f"{namespace}/{name}")
        except NotFound:
            old = None
        if old is not None and not overwrite:
            raise Conflict("resource already exists")
        trigger = Trigger(
            namespace=namespace, name=name,
            version=body.version or (bump_patch(old.version) if old else "0.0.1"),
            publish=body.publish if body.publish is not None else (old.publish if old else False),
            parameters=parameters if parameters is not None else (old.parameters if old else []),
            annotations=annotations if annotations is not None else (old.annotations if old else []),
            rules=old.rules if old else {}, updated=now_ms(), rev=old.rev if old else None,
        )
        if old is None and trigger.feed is None and any(a.get("key") == "feed" for a in trigger.annotations):
            raise Invalid(FEED_NOT_VALID)
        if old is None and trigger.feed is not None:
            try:
                EntityPath.parse_fqn(trigger.feed, namespace)
            except Invalid:
                raise Invalid(FEED_NOT_VALID) from None
        rev = self._entities.put_entity(trigger.to_doc())
        return replace(trigger, rev=rev)

    def delete(self, identity: Identity, namespace: str, name: str) -> Trigger:
        """Rules pointing at the trigger stay; they report ``inactive`` and may still be deleted."""
        trigger = self.get(identity, namespace, name)
        assert trigger.rev is not None
        self._entities.delete_entity(trigger.doc_id, trigger.rev)
        return trigger

    def fire(self, identity: Identity, namespace: str, name: str, payload: dict[str, Any],
             headers: Mapping[str, str], transaction_id: str, api_key: str | None = None) -> str | None:
        """The trigger activation's id, or None when no rule is active (nothing is stored then). The caller's
        ``api_key`` goes on to the rules' actions that ask for it (``provide-api-key``, own namespace), as each
        invoke hands it on (``app.core.credentials``).

        Raises ``Throttled`` past ``firesPerMinute``, ``NotFound``/``Forbidden`` for the trigger.
        """
        check_owner(identity, namespace, name)
        now = now_ms()
        count = self._counter.increment(window_key("fires", identity.namespace, now), WINDOW_MS // 1000 + 5)
        check_rate(count, self._fires_allowed(identity.namespace), "fires", identity.namespace, now_ms=now)
        trigger = self.load(f"{namespace}/{check_name(name)}")
        if not trigger.active_rules():
            return None
        forwarded = {k.lower(): v for k, v in headers.items() if k.lower() not in _WITHHELD_HEADERS}
        args = merge_parameters(trigger.parameters, {"__ow_headers": forwarded}, payload)
        logs = [self._activate_rule(identity, rule_id, link.action, link.status, args, transaction_id, api_key)
                for rule_id, link in sorted(trigger.rules.items())]
        activation = Activation(
            namespace=identity.namespace, name=trigger.name, version=trigger.version, subject=identity.subject,
            activation_id=new_activation_id(), start=now, end=0, status=Status.SUCCESS, result=payload,
            logs=logs,
        )
        if self._invocations.records_kept(identity.namespace):  # storeActivations: false keeps no trigger records
            self._activations.put_activation(activation.to_doc())
        return activation.activation_id

    def _activate_rule(self, identity: Identity, rule_id: str, action: EntityPath, status: RuleStatus,
                       args: dict[str, Any], transaction_id: str, api_key: str | None) -> str:
        if status is not RuleStatus.ACTIVE:
            return rule_log_line(rule_id, action, status_code=int(Status.APPLICATION_ERROR),
                                 error=inactive_rule(rule_id, action))
        try:
            outcome = self._invocations.invoke(identity, action, args, blocking=False,
                                               transaction_id=transaction_id, api_key=api_key)
        except _CLIENT_ERRORS as e:
            return rule_log_line(rule_id, action, status_code=int(Status.APPLICATION_ERROR), error=e.message)
        except PlatformError as e:
            log.error("rule %s could not invoke %s: %s", rule_id, action.doc_id, e)
            return rule_log_line(rule_id, action, status_code=int(Status.WHISK_ERROR), error=e.message)
        return rule_log_line(rule_id, action, activation_id=outcome.activation_id)
