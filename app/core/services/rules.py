"""Rules: CRUD and enable/disable (OpenWhisk ``Rules.scala``;
https://github.com/apache/openwhisk/blob/master/docs/triggers_rules.md).

The link a fire follows lives on the trigger document (``Trigger.rules``); the rule document names the
trigger and the action as given (``_`` resolved), so a rule into a binding follows the binding at fire time.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.core.entities import bump_patch, now_ms
from app.core.errors import Conflict, Invalid, NotFound
from app.core.identities import Identity
from app.core.names import EntityPath, check_name
from app.core.ports import EntityStore
from app.core.requests import RulePut, key_values
from app.core.rules import Rule, RuleStatus
from app.core.services.actions import SizeLimits, check_sizes, check_skip
from app.core.services.entitlement import check_owner
from app.core.services.resolution import Resolver, forbidden
from app.core.triggers import RuleLink, Trigger

NEEDS_BOTH = "rule requires a valid trigger and a valid action"
NO_TRIGGER = "Only rules with existing triggers can be activated"


class RuleService:
    def __init__(self, entities: EntityStore, parameters_bytes: int = SizeLimits.parameters_bytes) -> None:
        self._entities = entities
        self._resolver = Resolver(entities)
        self._parameters_bytes = parameters_bytes

    def get(self, identity: Identity, namespace: str, name: str) -> tuple[Rule, RuleStatus]:
        check_owner(identity, namespace, name)
        rule = self._load(f"{namespace}/{check_name(name)}")
        return rule, self._status(rule)

    def list(self, identity: Identity, namespace: str, skip: int, limit: int) -> list[Rule]:
        check_owner(identity, namespace)
        docs = self._entities.list_entities(namespace, "rule", check_skip(skip, "rules"), limit)
        return [Rule.from_doc(d) for d in docs]

    def count(self, identity: Identity, namespace: str) -> int:
        check_owner(identity, namespace)
        return self._entities.count_entities(namespace, "rule")

    def put(self, identity: Identity, namespace: str, name: str, body: RulePut,
            overwrite: bool) -> tuple[Rule, RuleStatus]:
        """Create (active) or update (status kept; moving to another trigger moves the link).

        400 for a missing trigger or action or a field left out on create; 403 for ones not readable.
        """
        check_owner(identity, namespace, name)
        check_name(name)
        # What the request alone decides comes before the first store read: the names' form, the size.
        given_trigger, given_action = _parse(body.trigger, namespace), _parse(body.action, namespace)
        annotations = key_values(body.annotations)
        check_sizes(self._parameters_bytes, annotations=annotations)
        try:
            old: Rule | None = self._load(f"{namespace}/{name}")
        except NotFound:
            old = None
        if old is not None and not overwrite:
            raise Conflict("resource already exists")
        trigger_path = _given_or_kept(given_trigger, old.trigger if old else None)
        action_path = _given_or_kept(given_action, old.action if old else None)
        if trigger_path.namespace != identity.namespace:
            raise forbidden(trigger_path.namespace, trigger_path.relative)
        trigger = self._existing_trigger(trigger_path)
        self._existing_action(identity, action_path)

        rule_id = f"{namespace}/{name}"
        status = RuleStatus.ACTIVE
        if old is not None:
            status = self._status(old)
            if old.trigger != trigger_path:
                self._unlink(old.trigger, rule_id)
                trigger = self._existing_trigger(trigger_path)
        rule = Rule(
            namespace=namespace, name=name, trigger=trigger_path, action=action_path,
            version=body.version or (bump_patch(old.version) if old else "0.0.1"),
            publish=body.publish if body.publish is not None else (old.publish if old else False),
            annotations=_given_or(annotations, old.annotations if old else []),
            updated=now_ms(), rev=old.rev if old else None,
        )
        self._entities.put_entity(trigger.with_rule(rule_id, RuleLink(action_path, status)).to_doc())
        rev = self._entities.put_entity(rule.to_doc())
        return replace(rule, rev=rev), status

    def set_status(self, identity: Identity, namespace: str, name: str, requested: object) -> None:
        """Enable or disable; the same status again is a no-op. 400 bad state, 404 trigger gone."""
        status = RuleStatus.parse(requested)
        rule, current = self.get(identity, namespace, name)
        if status is current:
            return
        try:
            trigger = self._trigger(rule.trigger)
        except NotFound:
            raise NotFound(NO_TRIGGER) from None
        self._entities.put_entity(trigger.with_rule(rule.doc_id, RuleLink(rule.action, status)).to_doc())

    def delete(self, identity: Identity, namespace: str, name: str) -> Rule:
        """Deletes active rules too, and works when the trigger is already gone."""
        check_owner(identity, namespace, name)
        rule = self._load(f"{namespace}/{check_name(name)}")
        self._unlink(rule.trigger, rule.doc_id)
        assert rule.rev is not None
        self._entities.delete_entity(rule.doc_id, rule.rev)
        return rule

    # --- helpers -----------------------------------------------------------------------------------

    def _load(self, doc_id: str) -> Rule:
        doc = self._entities.get_entity(doc_id)
        if doc.get("entityType") != "rule":
            raise Conflict("Resource by this name exists but is not in this collection.")
        return Rule.from_doc(doc)

    def _trigger(self, path: EntityPath) -> Trigger:
        doc = self._entities.get_entity(path.doc_id)
        if doc.get("entityType") != "trigger":
            raise NotFound()
        return Trigger.from_doc(doc)

    def _status(self, rule: Rule) -> RuleStatus:
        try:
            link = self._trigger(rule.trigger).rules.get(rule.doc_id)
        except NotFound:
            return RuleStatus.INACTIVE
        return link.status if link else RuleStatus.INACTIVE

    def _unlink(self, trigger_path: EntityPath, rule_id: str) -> None:
        try:
            trigger = self._trigger(trigger_path)
        except NotFound:
            return
        if rule_id in trigger.rules:
            self._entities.put_entity(trigger.with_rule(rule_id, None).to_doc())

    def _existing_trigger(self, path: EntityPath) -> Trigger:
        try:
            return self._trigger(path)
        except NotFound:
            raise Invalid(f"trigger {path.fqn} does not exist") from None

    def _existing_action(self, identity: Identity, path: EntityPath) -> None:
        try:
            self._resolver.resolve_action(identity, path)
        except (NotFound, Conflict):  # a 403 (not readable) passes through as OpenWhisk's entitlement check
            raise Invalid(f"action {path.fqn} does not exist") from None



def _parse(name: str | None, namespace: str) -> EntityPath | None:
    """The given name (``_`` is the rule's namespace), or None when left out; raises ``Invalid``."""
    if not name:
        return None
    try:
        return EntityPath.parse_fqn(name, namespace)
    except Invalid:
        raise Invalid(NEEDS_BOTH) from None


def _given_or_kept(given: EntityPath | None, kept: EntityPath | None) -> EntityPath:
    """The given name, else the one kept from before (on update); both missing is a 400."""
    if given is not None:
        return given
    if kept is None:
        raise Invalid(NEEDS_BOTH)
    return kept


def _given_or(given: list[dict[str, Any]] | None, kept: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An update's value when it sent one (``[]`` included), else what the rule had."""
    return given if given is not None else kept
