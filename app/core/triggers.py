"""Triggers and what a fire records (OpenWhisk ``WhiskTrigger`` and ``Triggers.activate``;
https://github.com/apache/openwhisk/blob/master/docs/triggers_rules.md).

A trigger document keeps its rules' links, ``{"ns/rule": {"action": {...}, "status": "active"}}``: a fire
reads one document to know which actions to invoke. Triggers cannot live in packages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from app.core.entities import Document, KeyValues, annotation, stored_doc
from app.core.names import EntityPath
from app.core.rules import RuleStatus, path_from_doc, path_to_doc


@dataclass(frozen=True)
class RuleLink:
    """One rule as the trigger sees it: the action to invoke and whether to."""

    action: EntityPath
    status: RuleStatus

    def to_doc(self) -> Document:
        return {"action": path_to_doc(self.action), "status": self.status.value}

    @classmethod
    def from_doc(cls, doc: Document) -> RuleLink:
        return cls(path_from_doc(doc["action"]), RuleStatus(doc.get("status", "active")))


@dataclass(frozen=True)
class Trigger:
    namespace: str
    name: str
    version: str = "0.0.1"
    publish: bool = False
    parameters: KeyValues = field(default_factory=list)
    annotations: KeyValues = field(default_factory=list)
    rules: dict[str, RuleLink] = field(default_factory=dict)  # "ns/rule" -> link
    updated: int = 0
    rev: str | None = None

    @property
    def path(self) -> EntityPath:
        return EntityPath(self.namespace, self.name)

    @property
    def doc_id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def feed(self) -> str | None:
        value = annotation(self.annotations, "feed")
        return value if isinstance(value, str) else None

    def active_rules(self) -> list[tuple[str, RuleLink]]:
        return [(name, link) for name, link in sorted(self.rules.items()) if link.status is RuleStatus.ACTIVE]

    def with_rule(self, rule_id: str, link: RuleLink | None) -> Trigger:
        """A copy with the link of ``rule_id`` set, or removed when ``link`` is None."""
        rules = dict(self.rules)
        if link is None:
            rules.pop(rule_id, None)
        else:
            rules[rule_id] = link
        return replace(self, rules=rules)

    def to_api(self) -> Document:
        doc: Document = {
            "namespace": self.namespace,
            "name": self.name,
            "version": self.version,
            "publish": self.publish,
            "annotations": self.annotations,
            "parameters": self.parameters,
            "limits": {},
            "updated": self.updated,
        }
        if self.rules:
            doc["rules"] = {name: link.to_doc() for name, link in sorted(self.rules.items())}
        return doc

    def to_summary(self) -> Document:
        return {key: value for key, value in self.to_api().items()
                if key in ("namespace", "name", "version", "publish", "annotations", "updated")}

    def to_doc(self) -> Document:
        doc = self.to_api()
        doc["rules"] = {name: link.to_doc() for name, link in self.rules.items()}
        return stored_doc(doc, self.doc_id, "trigger", self.rev)

    @classmethod
    def from_doc(cls, doc: Document) -> Trigger:
        return cls(
            namespace=doc["namespace"], name=doc["name"], version=doc.get("version", "0.0.1"),
            publish=bool(doc.get("publish", False)), parameters=list(doc.get("parameters", [])),
            annotations=list(doc.get("annotations", [])),
            rules={name: RuleLink.from_doc(link) for name, link in (doc.get("rules") or {}).items()},
            updated=int(doc.get("updated", 0)), rev=doc.get("_rev"),
        )


def rule_log_line(rule_id: str, action: EntityPath, *, activation_id: str | None = None,
                  status_code: int = 0, error: str | None = None) -> str:
    """One line of a trigger activation's ``logs``: compact JSON, as OpenWhisk writes it per rule."""
    entry: dict[str, Any] = {"rule": rule_id, "action": action.doc_id, "statusCode": status_code,
                             "success": error is None}
    if error is None:
        entry["activationId"] = activation_id
    else:
        entry["error"] = error
    return json.dumps(entry, separators=(",", ":"))
