"""The records Squall keeps and sends: actions, activations, and the activation message.

Each converts to and from its CouchDB document (``to_doc``/``from_doc``) and, where clients see it,
its API JSON (``to_api``). Shapes follow OpenWhisk's entities and activation record
(https://github.com/apache/openwhisk/blob/master/docs/rest_api.md,
https://github.com/apache/openwhisk/blob/master/docs/actions.md#understanding-the-activation-record).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import secrets
import time
from dataclasses import dataclass, field, fields, replace
from enum import IntEnum
from typing import Any

from app.core.attachments import AttachedCode
from app.core.limits import ActionLimits
from app.core.names import EntityPath

Document = dict[str, Any]
KeyValues = list[dict[str, Any]]

SEQUENCE = "sequence"
"""The exec kind of a sequence action: ``exec.components`` holds fully qualified names, no code."""

_BASE64 = re.compile(r"\A[A-Za-z0-9+/]*={0,2}\Z")


def now_ms() -> int:
    return int(time.time() * 1000)


def new_activation_id() -> str:
    """32 lower-case hex characters, like OpenWhisk's (a UUIDv4 without dashes)."""
    return secrets.token_hex(16)


def is_binary_code(code: str) -> bool:
    """OpenWhisk's rule: non-empty, length a multiple of 4 and only base64 characters → a zip or jar."""
    trimmed = code.strip()
    if not trimmed or len(trimmed) % 4 != 0 or not _BASE64.match(trimmed):
        return False
    try:
        base64.b64decode(trimmed, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def annotation(annotations: KeyValues, key: str, default: Any = None) -> Any:
    for item in annotations:
        if item.get("key") == key:
            return item.get("value")
    return default


def with_annotation(annotations: KeyValues, key: str, value: Any) -> KeyValues:
    """A copy with ``key`` set to ``value`` (replaced in place if present, else appended)."""
    out = [dict(a) for a in annotations if a.get("key") != key]
    out.append({"key": key, "value": value})
    return out


def merge_parameters(*layers: KeyValues | dict[str, Any]) -> dict[str, Any]:
    """Later layers win: package < binding < action < payload."""
    merged: dict[str, Any] = {}
    for layer in layers:
        if isinstance(layer, dict):
            merged.update(layer)
        else:
            merged.update({p["key"]: p.get("value") for p in layer if not p.get("init")})
    return merged


def bump_patch(version: str) -> str:
    """OpenWhisk's ``upPatch``: 0.0.1 → 0.0.2."""
    try:
        major, minor, patch = (int(p) for p in version.split("."))
    except ValueError:
        return "0.0.1"
    return f"{major}.{minor}.{patch + 1}"


def stored_doc(api_doc: Document, doc_id: str, entity_type: str, rev: str | None) -> Document:
    """An entity's API document as the store keeps it: with its id, type and (when it has one) revision."""
    doc = {**api_doc, "_id": doc_id, "entityType": entity_type}
    if rev:
        doc["_rev"] = rev
    return doc


@dataclass(frozen=True)
class Exec:
    kind: str
    code: str | None = None
    main: str | None = None
    image: str | None = None
    binary: bool = False
    components: tuple[str, ...] = ()
    # Code kept beside the document (``app.core.attachments``); ``code`` is None until it is read.
    attached: AttachedCode | None = None

    def to_doc(self, include_code: bool = True) -> Document:
        doc: Document = {"kind": self.kind}
        if self.kind == SEQUENCE:
            doc["components"] = list(self.components)
            return doc
        if self.image is not None:
            doc["image"] = self.image
        if include_code and self.code is not None:
            doc["code"] = self.code
        if self.main:
            doc["main"] = self.main
        doc["binary"] = self.binary
        return doc

    @classmethod
    def from_doc(cls, doc: Document) -> Exec:
        code, attached = doc.get("code"), AttachedCode.from_doc(doc.get("code"))
        return cls(kind=doc["kind"], code=None if attached else code, main=doc.get("main"), image=doc.get("image"),
                   binary=bool(doc.get("binary", False)), components=tuple(doc.get("components", ())),
                   attached=attached)

    def with_code(self, code: str) -> Exec:
        """This exec with its attached code read back in."""
        return replace(self, code=code)

    @property
    def code_bytes(self) -> int:
        """The code's size as stored: a zip's decoded bytes, other code's UTF-8 bytes (0 without code)."""
        if self.attached is not None:
            return self.attached.length
        if self.code is None:
            return 0
        if self.binary:
            trimmed = self.code.strip()
            return len(trimmed) // 4 * 3 - trimmed[-2:].count("=")
        return len(self.code.encode())


@dataclass(frozen=True)
class Action:
    path: EntityPath
    exec: Exec
    limits: ActionLimits
    version: str = "0.0.1"
    publish: bool = False
    parameters: KeyValues = field(default_factory=list)
    annotations: KeyValues = field(default_factory=list)
    updated: int = 0
    rev: str | None = None

    def to_api(self, include_code: bool = True) -> Document:
        return {
            "namespace": self.path.path,
            "name": self.path.name,
            "version": self.version,
            "publish": self.publish,
            "exec": self.exec.to_doc(include_code),
            "annotations": self.annotations,
            "parameters": self.parameters,
            "limits": self.limits.to_doc(),
            "updated": self.updated,
        }

    def to_summary(self) -> Document:
        return {
            "namespace": self.path.path,
            "name": self.path.name,
            "version": self.version,
            "publish": self.publish,
            "annotations": self.annotations,
            "limits": self.limits.to_doc(),
            "exec": {"binary": self.exec.binary},
            "updated": self.updated,
        }

    def to_doc(self) -> Document:
        doc = stored_doc(self.to_api(), self.path.doc_id, "action", self.rev)
        if self.exec.code is None and self.exec.attached is not None:  # kept beside the document, not read in
            doc["exec"]["code"] = self.exec.attached.to_doc()
        return doc

    @classmethod
    def from_doc(cls, doc: Document) -> Action:
        namespace, _, package = doc["namespace"].partition("/")
        return cls(
            path=EntityPath(namespace, doc["name"], package or None),
            exec=Exec.from_doc(doc["exec"]),
            limits=ActionLimits(**doc["limits"]),
            version=doc.get("version", "0.0.1"),
            publish=bool(doc.get("publish", False)),
            parameters=list(doc.get("parameters", [])),
            annotations=list(doc.get("annotations", [])),
            updated=int(doc.get("updated", 0)),
            rev=doc.get("_rev"),
        )

    def stamped(self, rev: str) -> Action:
        return replace(self, rev=rev)


class Status(IntEnum):
    """Activation outcome codes (OpenWhisk ``ActivationResponse``)."""

    SUCCESS = 0
    APPLICATION_ERROR = 1
    DEVELOPER_ERROR = 2
    WHISK_ERROR = 3

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    Status.SUCCESS: "success",
    Status.APPLICATION_ERROR: "application error",
    Status.DEVELOPER_ERROR: "action developer error",
    Status.WHISK_ERROR: "whisk internal error",
}


@dataclass(frozen=True)
class Activation:
    """One activation record."""

    namespace: str  # the invoking namespace
    name: str
    version: str
    subject: str
    activation_id: str
    start: int
    end: int
    status: Status
    result: Any
    logs: list[str] = field(default_factory=list)
    annotations: KeyValues = field(default_factory=list)
    cause: str | None = None
    size: int | None = None
    publish: bool = False
    elapsed: int | None = None  # sequences and conductors: the sum of their components, not end - start

    @classmethod
    def ended(cls, *, result: Any, **fields: Any) -> Activation:
        """The one builder of a finished activation's record: ``size`` is the result's compact JSON length, as
        OpenWhisk reports it. ``fields`` are the other attributes."""
        size = len(json.dumps(result, separators=(",", ":"))) if result is not None else None
        return cls(result=result, size=size, **fields)

    @property
    def duration(self) -> int:
        if self.elapsed is not None:
            return self.elapsed
        return self.end - self.start if self.end else 0

    @property
    def success(self) -> bool:
        return self.status == Status.SUCCESS

    def _common(self) -> Document:
        doc: Document = {
            "namespace": self.namespace,
            "name": self.name,
            "version": self.version,
            "subject": self.subject,
            "activationId": self.activation_id,
            "start": self.start,
            "logs": self.logs,
            "annotations": self.annotations,
            "publish": self.publish,
        }
        if self.end:
            doc["end"] = self.end
            doc["duration"] = self.duration
        if self.cause:
            doc["cause"] = self.cause
        return doc

    def response_api(self) -> Document:
        response: Document = {"status": self.status.label, "success": self.success, "result": self.result}
        if self.size is not None:
            response["size"] = self.size
        return response

    def to_api(self) -> Document:
        """The extended JSON clients read (``GET /activations/{id}``, blocking invokes)."""
        doc = self._common()
        doc["response"] = self.response_api()
        return doc

    def to_summary(self) -> Document:
        doc = self._common()
        del doc["logs"]
        del doc["subject"]
        doc["statusCode"] = int(self.status)
        return doc

    def to_doc(self) -> Document:
        doc = self._common()
        response: Document = {"statusCode": int(self.status), "result": self.result}
        if self.size is not None:
            response["size"] = self.size
        doc["response"] = response
        doc["_id"] = f"{self.namespace}/{self.activation_id}"
        doc["entityType"] = "activation"
        return doc

    @classmethod
    def from_doc(cls, doc: Document) -> Activation:
        response = doc.get("response", {})
        start, end = int(doc["start"]), int(doc.get("end", 0))
        duration = doc.get("duration")
        elapsed = int(duration) if duration is not None and end and int(duration) != end - start else None
        if "statusCode" in response:
            status = Status(response["statusCode"])
        else:  # API form
            status = next(s for s in Status if s.label == response.get("status", "success"))
        return cls(
            namespace=doc["namespace"], name=doc["name"], version=doc.get("version", "0.0.1"),
            subject=str(doc.get("subject") or doc["namespace"]), activation_id=doc["activationId"],
            start=start, end=end, status=status,
            result=response.get("result"), logs=list(doc.get("logs", [])),
            annotations=list(doc.get("annotations", [])), cause=doc.get("cause"),
            size=response.get("size"), publish=bool(doc.get("publish", False)), elapsed=elapsed,
        )


@dataclass(frozen=True)
class ActivationMessage:
    """What the controller sends an invoker for one activation: the wire contract of the invoke task."""

    activation_id: str
    transaction_id: str
    namespace: str  # the invoking namespace
    subject: str
    action: str  # doc id of the action: ns[/pkg]/name
    revision: str
    content: dict[str, Any] | list[Any]  # an array only as a sequence passes one component's result on
    blocking: bool
    received_ms: int
    api_key: str | None = None  # only when the action has provide-api-key
    binding: str | None = None  # ns/binding when invoked through a binding
    cause: str | None = None
    init_args: dict[str, Any] = field(default_factory=dict)
    # A sequence or conductor component: where the composition goes on when this activation is done
    # (``app.core.compositions.Continuation.to_dict()``); None for an ordinary invoke.
    continuation: dict[str, Any] | None = None
    memory_mb: int = 0  # the action's memory limit, for placement
    # Where room was reserved for it (``app.core.placement``): the invoker that runs it gives that back at the end.
    placed_on: str | None = None
    reserved_mb: int = 0
    # The result backend channel of the controller process waiting for a blocking invoke's result, if any.
    reply_to: str | None = None
    # False when the invoking namespace keeps no records (``storeActivations: false``): the result still goes to
    # a blocking caller, the record is not stored.
    store_record: bool = True

    def to_dict(self) -> Document:
        return {
            "activation_id": self.activation_id, "transaction_id": self.transaction_id,
            "namespace": self.namespace, "subject": self.subject, "action": self.action,
            "revision": self.revision, "content": self.content, "blocking": self.blocking,
            "received_ms": self.received_ms, "api_key": self.api_key, "binding": self.binding,
            "cause": self.cause, "init_args": self.init_args, "continuation": self.continuation,
            "memory_mb": self.memory_mb, "placed_on": self.placed_on, "reserved_mb": self.reserved_mb,
            "reply_to": self.reply_to, "store_record": self.store_record,
        }

    @classmethod
    def from_dict(cls, data: Document) -> ActivationMessage:
        """The message; keys this release does not know (a newer controller's, during an upgrade) are ignored
        rather than failing the activation: an invoker then runs it as this release would."""
        known = _message_fields()
        # The transaction id only names the message in log lines: one without it (written by hand, or by another
        # publisher) runs, its lines carry no id.
        return cls(**{"transaction_id": "", **{k: v for k, v in data.items() if k in known}})


@functools.cache
def _message_fields() -> frozenset[str]:
    return frozenset(f.name for f in fields(ActivationMessage))
