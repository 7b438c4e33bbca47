"""Typed request bodies the use cases accept, validated with pydantic.

Validation failures become ``Invalid`` with OpenWhisk's "The request content was malformed:" prefix.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from app.core.errors import Invalid

M = TypeVar("M", bound=BaseModel)


class KeyValue(BaseModel):
    model_config = ConfigDict(extra="allow")

    key: str
    value: Any = None
    init: bool | None = None


class ExecPut(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: str
    code: str | None = None
    main: str | None = None
    image: str | None = None
    binary: bool | None = None
    components: list[str] | None = None


class _Versioned(BaseModel):
    """An entity body with an optional semantic ``version``."""

    model_config = ConfigDict(extra="ignore")

    version: str | None = None

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str | None) -> str | None:
        if value is not None:
            parts = value.split(".")
            if len(parts) != 3 or not all(p.isdigit() for p in parts):
                raise ValueError("version must be a semantic version like 0.0.1")
        return value


class ActionPut(_Versioned):
    """``PUT /namespaces/{ns}/actions/{name}``: every field optional on update."""

    exec: ExecPut | None = None
    parameters: list[KeyValue] | None = None
    annotations: list[KeyValue] | None = None
    limits: dict[str, Any] | None = None
    publish: bool | None = None
    delAnnotations: list[str] | None = None


class PackagePut(_Versioned):
    """``PUT /namespaces/{ns}/packages/{name}``; ``binding`` ``{}`` means "not a binding"."""

    binding: dict[str, Any] | None = None
    parameters: list[KeyValue] | None = None
    annotations: list[KeyValue] | None = None
    publish: bool | None = None


class TriggerPut(_Versioned):
    """``PUT /namespaces/{ns}/triggers/{name}``: given fields replace the old ones wholesale."""

    parameters: list[KeyValue] | None = None
    annotations: list[KeyValue] | None = None
    limits: dict[str, Any] | None = None
    publish: bool | None = None


class RulePut(_Versioned):
    """``PUT /namespaces/{ns}/rules/{name}``: names as ``/ns/t`` and ``/ns/[pkg/]a``; ``status`` is ignored."""

    trigger: str | None = None
    action: str | None = None
    publish: bool | None = None
    annotations: list[KeyValue] | None = None


def key_values(items: list[KeyValue] | None) -> list[dict[str, Any]] | None:
    """Validated key/value pairs as stored; ``init`` kept only when set."""
    if items is None:
        return None
    return [item.model_dump(exclude_none=True) if item.init else {"key": item.key, "value": item.value}
            for item in items]


def parse(model: type[M], body: Any) -> M:
    """Validate ``body`` (already decoded JSON) into ``model`` or raise ``Invalid``."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise Invalid("The request content was malformed:\nexpected a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Invalid(f"The request content was malformed:\n{where}: {first['msg']}") from e
