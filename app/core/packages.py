"""Packages and package bindings (OpenWhisk ``WhiskPackage``;
https://github.com/apache/openwhisk/blob/master/docs/packages.md).

A package holds actions and shares them when ``publish`` is true. A binding is a package document whose
``binding`` names another (non-binding) package, possibly in another namespace; it carries its own parameters,
which sit between the bound package's and the action's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from app.core.entities import Document, KeyValues, stored_doc, with_annotation
from app.core.errors import Invalid
from app.core.names import check_name

RESERVED_NAME = "default"


@dataclass(frozen=True)
class Binding:
    """The package a binding points at: ``{"namespace": ..., "name": ...}`` in JSON."""

    namespace: str
    name: str

    @property
    def doc_id(self) -> str:
        return f"{self.namespace}/{self.name}"

    def to_doc(self) -> dict[str, str]:
        return {"namespace": self.namespace, "name": self.name}

    @classmethod
    def from_doc(cls, doc: Any) -> Binding | None:
        """``{}``, ``None`` or a missing field mean "not a binding"."""
        if not isinstance(doc, dict) or not doc.get("namespace") or not doc.get("name"):
            return None
        return cls(check_name(str(doc["namespace"])), check_name(str(doc["name"])))


def check_package_name(name: str) -> str:
    check_name(name)
    if name == RESERVED_NAME:
        raise Invalid(f"Package name '{RESERVED_NAME}' is reserved.")
    return name


@dataclass(frozen=True)
class Package:
    namespace: str
    name: str
    binding: Binding | None = None
    version: str = "0.0.1"
    publish: bool = False
    parameters: KeyValues = field(default_factory=list)
    annotations: KeyValues = field(default_factory=list)
    updated: int = 0
    rev: str | None = None

    @property
    def doc_id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def fqn(self) -> str:
        return f"/{self.doc_id}"

    def with_binding_annotation(self) -> Package:
        """OpenWhisk sets annotation ``binding`` on bindings itself and drops a user-supplied one."""
        annotations = [a for a in self.annotations if a.get("key") != "binding"]
        if self.binding is not None:
            annotations = with_annotation(annotations, "binding", self.binding.to_doc())
        return replace(self, annotations=annotations)

    def to_api(self) -> Document:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "version": self.version,
            "publish": self.publish,
            "annotations": self.annotations,
            "parameters": self.parameters,
            "binding": self.binding.to_doc() if self.binding else {},
            "updated": self.updated,
        }

    def to_summary(self) -> Document:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "version": self.version,
            "publish": self.publish,
            "annotations": self.annotations,
            "binding": self.binding.to_doc() if self.binding else False,
            "updated": self.updated,
        }

    def to_doc(self) -> Document:
        return stored_doc(self.to_api(), self.doc_id, "package", self.rev)

    @classmethod
    def from_doc(cls, doc: Document) -> Package:
        return cls(
            namespace=doc["namespace"], name=doc["name"], binding=Binding.from_doc(doc.get("binding")),
            version=doc.get("version", "0.0.1"), publish=bool(doc.get("publish", False)),
            parameters=list(doc.get("parameters", [])), annotations=list(doc.get("annotations", [])),
            updated=int(doc.get("updated", 0)), rev=doc.get("_rev"),
        )
