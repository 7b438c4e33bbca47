"""Typed request bodies the use cases accept, validated with pydantic.

Validation failures become ``Invalid`` with OpenWhisk's "The request content was malformed:" prefix, then
``field: message`` (a validator's message as written, without pydantic's "Value error, ").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from app.core.errors import Invalid

M = TypeVar("M", bound=BaseModel)

_OWN_MESSAGES = frozenset({"value_error", "assertion_error"})
"""Error types whose message is a validator's exception, which pydantic prefixes ("Value error, ...")."""


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


SEMVER_MALFORMED = "semantic version malformed"
_JAVA_INT = re.compile(r"[+-]?\d+")
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def semantic_version(value: str) -> str:
    """OpenWhisk's ``SemVer(str)``, normalised to ``major.minor.patch``: ``"1"`` and ``"1.0"`` are ``1.0.0``.

    Mirrors SemVer.scala so what OpenWhisk stores Squall stores: split on ``.`` with trailing empty parts dropped
    (Java's ``split``), missing parts 0, parts after the third ignored, each part an ``Integer.parseInt`` (sign
    and leading zeros allowed, 32 bits). Negative parts and 0.0.0 are refused with ``ValueError``.
    """
    parts = value.split(".") if value else []
    while parts and not parts[-1]:
        parts.pop()
    numbers = [_java_int(part) for part in parts[:3]] + [0, 0, 0]
    major, minor, patch = numbers[:3]
    if min(major, minor, patch) < 0 or major == minor == patch == 0:
        raise ValueError(SEMVER_MALFORMED)
    return f"{major}.{minor}.{patch}"


def _java_int(part: str) -> int:
    if not _JAVA_INT.fullmatch(part):
        raise ValueError(SEMVER_MALFORMED)
    number = int(part)
    if not _INT_MIN <= number <= _INT_MAX:
        raise ValueError(SEMVER_MALFORMED)
    return number


class _Versioned(BaseModel):
    """An entity body with an optional semantic ``version``, stored normalised (``"1.0"`` as ``1.0.0``)."""

    model_config = ConfigDict(extra="ignore")

    version: str | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _semver(cls, value: Any) -> str | None:
        # Before pydantic's type check: OpenWhisk answers a non-string version with the same message.
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(SEMVER_MALFORMED)
        return semantic_version(value)


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
        raise Invalid(f"The request content was malformed:\n{_message(e.errors()[0])}") from e


def _message(error: Mapping[str, Any]) -> str:
    """``field: message`` for a validation error, without pydantic's "Value error, " or "Assertion failed, "
    prefix on our validators' own messages (users see the message as we wrote it)."""
    cause = (error.get("ctx") or {}).get("error")
    text = str(cause) if error["type"] in _OWN_MESSAGES and isinstance(cause, Exception) else error["msg"]
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {text}" if where else text
