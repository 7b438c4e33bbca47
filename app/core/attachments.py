"""Action code kept beside its document rather than in it: OpenWhisk's ``CodeExecAsAttachment``.

Code longer than a threshold (``limits.code_inline_bytes``) leaves the action's document: its ``exec.code`` is then
a reference, ``{"attachmentName": ..., "attachmentType": ..., "length": ...}`` as OpenWhisk writes it, and the bytes
travel in the document's ``_attachments`` (CouchDB's own field) until the store puts them where it keeps such
bytes (a CouchDB attachment; a blob row in SQLite). Reads that need no code (listing, resolving an action for an
invoke, the entity cache) stay small; the code is read by ``EntityStore.get_attachment`` when it is wanted.

As OpenWhisk stores it: a zip (binary code) as its decoded bytes (``application/octet-stream``), any other code
as UTF-8 text. Each upload gets a new name, so a name always means the same bytes: a revision that kept the code
refers to the same name, and a cache keyed by it never serves another revision's code.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

Document = dict[str, Any]

BINARY_TYPE = "application/octet-stream"
TEXT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class AttachedCode:
    """Where an action's code is, when it is not in its document."""

    name: str
    content_type: str
    length: int  # bytes stored

    def to_doc(self) -> Document:
        return {"attachmentName": self.name, "attachmentType": self.content_type, "length": self.length}

    @classmethod
    def from_doc(cls, doc: Any) -> AttachedCode | None:
        """The reference ``exec.code`` holds, or None when it holds code (or nothing)."""
        if not isinstance(doc, dict) or not isinstance(doc.get("attachmentName"), str):
            return None
        return cls(name=doc["attachmentName"], content_type=str(doc.get("attachmentType", BINARY_TYPE)),
                   length=int(doc.get("length", 0)))

    def decode(self, data: bytes) -> str:
        """The code as ``/init`` and the API carry it: base64 for a zip, else the text."""
        if self.content_type == BINARY_TYPE:
            return base64.b64encode(data).decode("ascii")
        return data.decode("utf-8")


def encode(code: str, binary: bool) -> tuple[bytes, str]:
    """Code as stored: a zip's decoded bytes, or UTF-8 text; and its content type."""
    if binary:
        return base64.b64decode(code), BINARY_TYPE
    return code.encode("utf-8"), TEXT_TYPE


def new_name() -> str:
    return f"code-{secrets.token_hex(8)}"


def detach(doc: Document, inline_bytes: int) -> Document:
    """``doc`` (an action's, as ``Action.to_doc`` writes it) as it is to be stored: code longer than
    ``inline_bytes`` moved to a new attachment (``_attachments[name]["data"]`` holds its bytes), code already
    attached kept (``{"stub": true}``), anything else unchanged. A document stored without ``_attachments``
    loses the attachments it had (CouchDB's rule, which the SQLite store follows too)."""
    exec_ = doc.get("exec")
    if not isinstance(exec_, dict):
        return doc
    code = exec_.get("code")
    kept = AttachedCode.from_doc(code)
    if kept is not None:
        return {**doc, "_attachments": {kept.name: {"stub": True}}}
    if not isinstance(code, str) or len(code) <= inline_bytes:
        return doc
    data, content_type = encode(code, bool(exec_.get("binary")))
    attached = AttachedCode(new_name(), content_type, len(data))
    return {**doc, "exec": {**exec_, "code": attached.to_doc()},
            "_attachments": {attached.name: {"content_type": content_type, "data": data}}}


def uploads(doc: Document) -> tuple[dict[str, tuple[str, bytes]], list[str]]:
    """A document's ``_attachments`` as a store writes them: the new ones (name → content type, bytes) and the
    names of those to keep. Raises ``ValueError`` for an entry that is neither."""
    new: dict[str, tuple[str, bytes]] = {}
    keep: list[str] = []
    for name, entry in (doc.get("_attachments") or {}).items():
        if isinstance(entry, dict) and isinstance(entry.get("data"), bytes):
            new[name] = (str(entry.get("content_type", BINARY_TYPE)), entry["data"])
        elif isinstance(entry, dict) and entry.get("stub"):
            keep.append(name)
        else:
            raise ValueError(f"attachment {name!r} has neither bytes nor a stub")
    return new, keep
