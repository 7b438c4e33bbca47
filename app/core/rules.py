"""Rules: a trigger linked to an action (OpenWhisk ``WhiskRule``;
https://github.com/apache/openwhisk/blob/master/docs/triggers_rules.md).

A rule's status is not kept on the rule: it lives in the trigger's ``rules`` map (``app.core.triggers``),
which is what a fire reads. A rule whose trigger is gone reports ``inactive``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.core.entities import Document, KeyValues, stored_doc
from app.core.errors import Invalid
from app.core.names import EntityPath


class RuleStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"

    @classmethod
    def parse(cls, value: Any) -> RuleStatus:
        """Raises ``Invalid`` with OpenWhisk's message for anything but ``active``/``inactive``."""
        for status in cls:
            if value == status.value:
                return status
        raise Invalid(f"'{value}' is not a recognized rule state, must be one of ['active', 'inactive']")


def path_to_doc(path: EntityPath) -> dict[str, str]:
    """OpenWhisk's ``{"path": "ns[/pkg]", "name": "x"}`` form of a fully qualified name."""
    return {"path": path.path, "name": path.name}


def path_from_doc(doc: dict[str, Any]) -> EntityPath:
    namespace, _, package = str(doc["path"]).partition("/")
    return EntityPath(namespace, str(doc["name"]), package or None)


@dataclass(frozen=True)
class Rule:
    namespace: str
    name: str
    trigger: EntityPath
    action: EntityPath
    version: str = "0.0.1"
    publish: bool = False
    annotations: KeyValues = field(default_factory=list)
    updated: int = 0
    rev: str | None = None

    @property
    def doc_id(self) -> str:
        return f"{self.namespace}/{self.name}"

    def to_api(self, status: RuleStatus | None = None) -> Document:
        """The rule as clients see it; ``status`` only where OpenWhisk reports it (GET, PUT, DELETE)."""
        doc: Document = {
            "namespace": self.namespace,
            "name": self.name,
            "version": self.version,
            "publish": self.publish,
            "annotations": self.annotations,
            "trigger": path_to_doc(self.trigger),
            "action": path_to_doc(self.action),
            "updated": self.updated,
        }
        if status is not None:
            doc["status"] = status.value
        return doc

    def to_doc(self) -> Document:
        return stored_doc(self.to_api(), self.doc_id, "rule", self.rev)

    @classmethod
    def from_doc(cls, doc: Document) -> Rule:
        return cls(
            namespace=doc["namespace"], name=doc["name"], trigger=path_from_doc(doc["trigger"]),
            action=path_from_doc(doc["action"]), version=doc.get("version", "0.0.1"),
            publish=bool(doc.get("publish", False)), annotations=list(doc.get("annotations", [])),
            updated=int(doc.get("updated", 0)), rev=doc.get("_rev"),
        )
