"""Create, update, read, delete and list actions (OpenWhisk ``Actions.scala`` semantics;
https://github.com/apache/openwhisk/blob/master/docs/rest_api.md#actions)."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, replace
from typing import Any

from app.core import attachments, sequences
from app.core.entities import (
    SEQUENCE,
    Action,
    Exec,
    annotation,
    bump_patch,
    is_binary_code,
    now_ms,
    with_annotation,
)
from app.core.errors import Conflict, Invalid, NotFound, PayloadTooLarge
from app.core.identities import Identity
from app.core.limits import LimitPolicy
from app.core.manifest import RuntimeManifest
from app.core.names import EntityPath
from app.core.ports import EntityStore
from app.core.requests import ActionPut, ExecPut, key_values
from app.core.services.entitlement import check_owner
from app.core.services.resolution import Resolver

KeyValues = list[dict[str, Any]] | None
"""Parameters or annotations as stored, or None when a request left them out."""


@dataclass(frozen=True)
class SizeLimits:
    exec_bytes: int = 48 * 1_048_576  # a zip counts by its decoded bytes, as the store keeps it
    parameters_bytes: int = 1_048_576
    code_inline_bytes: int = 1_048_576  # longer code is stored beside the document (app.core.attachments)


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


CHANGED_MEANWHILE = "The action changed since this version was read."

MAX_SKIP = 100_000
"""The most entries a list may skip: stores skip by walking (CouchDB reads every skipped row, and SQLite takes
no offset past 64 bits), so an unbounded ``skip`` is unbounded store work; activations page further by time."""


def check_skip(skip: int, collection: str) -> int:
    """``skip`` when it is within ``MAX_SKIP``, else ``Invalid`` in the words of the ``limit`` check."""
    if not 0 <= skip <= MAX_SKIP:
        raise Invalid(f"The value '{skip}' is not in the range of 0 to {MAX_SKIP} for {collection}.")
    return skip


def check_sizes(max_bytes: int, **lists: KeyValues) -> None:
    """Raise ``PayloadTooLarge`` (413) when a given key/value list (``parameters=...``, ``annotations=...``)
    encodes to more than ``max_bytes``; the same rule for every entity that carries such lists."""
    for what, value in lists.items():
        if value is not None and _size(value) > max_bytes:
            raise PayloadTooLarge(_size(value), max_bytes,
                                  f"The size of {what} exceeds the allowed limit of {max_bytes} bytes.")


class ActionService:
    def __init__(self, entities: EntityStore, manifest: RuntimeManifest, limits: LimitPolicy,
                 sizes: SizeLimits | None = None, sequence_max_length: int = sequences.DEFAULT_MAX_LENGTH) -> None:
        self._entities = entities
        self._manifest = manifest
        self._limits = limits
        self._sizes = sizes or SizeLimits()
        self._resolver = Resolver(entities)
        self._sequence_max_length = sequence_max_length

    def get(self, identity: Identity, path: EntityPath, include_code: bool = True,
            inherited: bool = True) -> Action:
        """The action, readable through an own or public package or a binding; inherited parameters are shown
        merged in (package < binding < action), as OpenWhisk shows them, unless ``inherited`` is False (the
        action's own, as an editor saves them back). Attached code is read only when ``include_code``; otherwise
        the action carries its reference alone."""
        resolved = self._resolver.resolve_action(identity, path)
        try:
            action = self.with_code(resolved.action) if include_code else resolved.action
        except NotFound:  # updated between the two reads, and its old code went with the update: read it again
            resolved = self._resolver.resolve_action(identity, path)
            action = self.with_code(resolved.action)
        if not resolved.inherited or not inherited:
            return action
        merged = resolved.parameters()
        return replace(action, path=path, parameters=[{"key": k, "value": v} for k, v in merged.items()])

    def with_code(self, action: Action) -> Action:
        """``action`` with its attached code read in (unchanged when its code is in its document). Raises
        ``NotFound`` when that revision's code is gone: the action changed meanwhile."""
        attached = action.exec.attached
        if attached is None or action.rev is None:
            return action
        data = self._entities.get_attachment(action.path.doc_id, action.rev, attached.name)
        return replace(action, exec=action.exec.with_code(attached.decode(data)))

    def list_in_package(self, identity: Identity, namespace: str, package: str, skip: int,
                        limit: int) -> list[Action]:
        """Actions of a package, or of the package a binding binds (``GET /actions/pkg/``)."""
        check_skip(skip, "actions")
        found = self._resolver.readable_package(identity, namespace, package)
        real = found.binding.doc_id if found.binding else found.doc_id
        return [Action.from_doc(d) for d in self._entities.list_entities(real, "action", skip, limit)
                if d.get("namespace") == real]

    def list(self, identity: Identity, namespace: str, skip: int, limit: int) -> list[Action]:
        check_owner(identity, namespace)
        docs = self._entities.list_entities(namespace, "action", check_skip(skip, "actions"), limit)
        return [Action.from_doc(d) for d in docs]

    def count(self, identity: Identity, namespace: str) -> int:
        check_owner(identity, namespace)
        return self._entities.count_entities(namespace, "action")

    def delete(self, identity: Identity, path: EntityPath) -> Action:
        self._resolver.writable_package(identity, path)
        action = self._load(path)
        assert action.rev is not None
        self._entities.delete_entity(path.doc_id, action.rev)
        return action

    def put(self, identity: Identity, path: EntityPath, body: ActionPut, overwrite: bool,
            expected_rev: str | None = None) -> Action:
        """Create, or update when ``overwrite``; returns the stored action. Nothing is stored if a check fails.

        Every check the request alone decides (sizes, limits' ranges, the kind, a sequence's length and names)
        comes before the first store read, so a refused request costs no store work whatever its size.
        ``expected_rev``: the revision an editor loaded; ``Conflict`` if the action is no longer at it (changed or
        deleted meanwhile). The write itself names the revision read, so a change in between conflicts too.
        """
        given_exec, parameters, annotations = self._checked_body(identity, body)
        self._resolver.writable_package(identity, path)
        try:
            old: Action | None = self._load(path)
        except NotFound:
            old = None
        if old is not None and not overwrite:
            raise Conflict("resource already exists")
        if expected_rev is not None and (old is None or old.rev != expected_rev):
            raise Conflict(CHANGED_MEANWHILE)
        if old is None and body.exec is None:
            raise Invalid("The request content was malformed:\nexec undefined")

        if isinstance(given_exec, tuple):
            exec_: Exec | None = self._sequence(identity, path, given_exec)
        else:
            exec_ = given_exec if given_exec is not None else old.exec if old else None
        assert exec_ is not None
        if old is not None and body.exec is None and old.exec.kind not in ("blackbox", SEQUENCE):
            self._manifest.resolve(old.exec.kind)  # raises for a deprecated kind: no updates to those

        limits = self._limits.validate(body.limits, old.limits if old else None)
        if limits.concurrency > 1 and not self._manifest.supports_concurrency(exec_.kind):
            # Only runtimes whose manifest entry says ``concurrent`` run several activations at once.
            raise Invalid(f"concurrency {limits.concurrency} exceeds allowed threshold of 1")
        if old is None:
            merged_annotations = annotations or []
            if annotation(merged_annotations, "provide-api-key") is None:
                merged_annotations = with_annotation(merged_annotations, "provide-api-key", False)
            version = body.version or "0.0.1"
            params = parameters or []
        else:
            kept = [a for a in old.annotations if a.get("key") not in set(body.delAnnotations or [])]
            merged_annotations = kept
            for item in annotations or []:
                merged_annotations = with_annotation(merged_annotations, item["key"], item.get("value"))
            version = body.version or bump_patch(old.version)
            params = parameters if parameters is not None else old.parameters
            if old.exec.kind == SEQUENCE and parameters is None:
                params = []  # turning a sequence into an action must not leak its "_actions"
        if exec_.kind == SEQUENCE:
            # OpenWhisk keeps the components as parameter "_actions"; any other parameters are discarded.
            params = [{"key": "_actions", "value": list(exec_.components)}]
        merged_annotations = with_annotation(merged_annotations, "exec", exec_.kind)

        action = Action(
            path=path, exec=exec_, limits=limits, version=version,
            publish=body.publish if body.publish is not None else (old.publish if old else False),
            parameters=params, annotations=merged_annotations, updated=now_ms(),
            rev=old.rev if old else None,
        )
        rev = self._entities.put_entity(attachments.detach(action.to_doc(), self._sizes.code_inline_bytes))
        return replace(action, rev=rev)

    def _checked_body(self, identity: Identity,
                      body: ActionPut) -> tuple[Exec | tuple[EntityPath, ...] | None, KeyValues, KeyValues]:
        """The checks that need no store: the exec (a sequence's component paths, not yet looked up), the
        parameters and annotations as stored, and the limits' ranges. Raises ``Invalid`` or ``PayloadTooLarge``."""
        given_exec: Exec | tuple[EntityPath, ...] | None = None
        if body.exec is not None and body.exec.kind == SEQUENCE:
            components = body.exec.components or []
            sequences.check_length(components, self._sequence_max_length)
            given_exec = tuple(sequences.component_path(name, identity.namespace) for name in components)
        elif body.exec is not None:
            given_exec = self._exec(body.exec)
        parameters = key_values(body.parameters)
        annotations = key_values(body.annotations)
        check_sizes(self._sizes.parameters_bytes, parameters=parameters, annotations=annotations)
        self._limits.validate(body.limits)  # the given fields' ranges; merged with the old ones once read
        return given_exec, parameters, annotations

    def _sequence(self, identity: Identity, path: EntityPath, components: tuple[EntityPath, ...]) -> Exec:
        """A sequence exec whose components (at most the configured number, checked before) exist, are readable,
        do not lead back to ``path`` and, inlined, hold at most the configured number of atomic actions.
        Raises ``Invalid`` (400) or ``Forbidden`` (403)."""
        for component in components:
            # Readable: own, in a public package, or through a binding (403 otherwise). A missing one is
            # reported by the count below with OpenWhisk's sequence message.
            with contextlib.suppress(NotFound, Conflict):
                self._resolver.resolve_action(identity, component)
        sequences.count_atomic_actions(path.doc_id, [c.doc_id for c in components], self._nested_components,
                                       self._sequence_max_length)
        return Exec(kind=SEQUENCE, components=tuple(c.fqn for c in components))

    def _nested_components(self, doc_id: str) -> tuple[str, ...] | None:
        """For ``sequences.count_atomic_actions``: a sequence's component doc ids, None for an atomic action."""
        doc = self._component_doc(doc_id)
        if doc.get("entityType") != "action":
            raise NotFound()
        exec_ = Exec.from_doc(doc["exec"])
        if exec_.kind != SEQUENCE:
            return None
        return tuple(EntityPath.parse_fqn(c, doc["namespace"].split("/")[0]).doc_id for c in exec_.components)

    def _component_doc(self, doc_id: str) -> dict[str, Any]:
        """The action document ``ns/name`` or ``ns/pkg/name`` names, following a binding to its package."""
        try:
            return self._entities.get_entity(doc_id)
        except NotFound:
            path = EntityPath.parse_fqn(f"/{doc_id}", "_")
            if path.package is None:
                raise
            try:
                package = self._resolver.package(f"{path.namespace}/{path.package}")
            except Conflict:
                raise NotFound() from None
            if package.binding is None:
                raise
            return self._entities.get_entity(f"{package.binding.doc_id}/{path.name}")

    def _exec(self, given: ExecPut) -> Exec:
        if given.kind == "blackbox":
            if not given.image:
                raise Invalid("The request content was malformed:\nexec.image undefined for a blackbox action")
            code = given.code or None
            kind = "blackbox"
        else:
            kind = self._manifest.resolve(given.kind)
            if given.code is None:
                raise Invalid("The request content was malformed:\nexec.code undefined")
            code = given.code
        if code is not None and len(code) > (self._sizes.exec_bytes + 2) // 3 * 4 + 8:  # past any zip's base64
            raise PayloadTooLarge(len(code), self._sizes.exec_bytes,
                                  f"Code size exceeds the allowed limit of {self._sizes.exec_bytes} bytes.")
        binary = is_binary_code(code) if code else False
        exec_ = Exec(kind=kind, code=code, main=given.main or None, image=given.image, binary=binary)
        if exec_.code_bytes > self._sizes.exec_bytes:  # a zip by its decoded bytes: its base64 is a third longer
            raise PayloadTooLarge(exec_.code_bytes, self._sizes.exec_bytes,
                                  f"Code size exceeds the allowed limit of {self._sizes.exec_bytes} bytes.")
        return exec_

    def _load(self, path: EntityPath) -> Action:
        doc = self._entities.get_entity(path.doc_id)
        if doc.get("entityType") != "action":
            raise Conflict("Resource by this name exists but is not in this collection.")
        return Action.from_doc(doc)
