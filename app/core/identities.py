"""Subjects, their namespaces and API keys. Keys are stored hashed and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import uuid as uuidlib
from dataclasses import dataclass, field, replace
from typing import Any

from app.core.errors import Invalid

_KEY_ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 64

# OpenWhisk's well-known default credentials (ansible/files/auth.guest, auth.whisk.system): published,
# so a stock `wsk` works against a fresh install. Operators rotate them in production.
_WELL_KNOWN_KEY = "zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
WELL_KNOWN = {
    "guest": f"23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123{_WELL_KNOWN_KEY}",
    "whisk.system": f"789c46b1-71f6-4ed5-8c54-816aa4f8c502:abc{_WELL_KNOWN_KEY}",
}


def hash_key(key: str, salt: str | None = None) -> str:
    """``sha256$<salt>$<hex>``. Keys are 64 random characters, so a fast salted hash is enough."""
    salt = salt or secrets.token_hex(8)
    digest = hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()
    return f"sha256${salt}${digest}"


def key_matches(key: str, stored: str) -> bool:
    try:
        algorithm, salt, _ = stored.split("$")
    except ValueError:
        return False
    if algorithm != "sha256":
        return False
    return hmac.compare_digest(hash_key(key, salt), stored)


def new_credentials() -> tuple[str, str]:
    """A fresh ``(uuid, key)`` pair."""
    return str(uuidlib.uuid4()), "".join(secrets.choice(_KEY_ALPHABET) for _ in range(KEY_LENGTH))


def split_credentials(auth: str) -> tuple[str, str]:
    uuid, sep, key = auth.partition(":")
    if not sep or not uuid or not key:
        raise Invalid("credentials must look like uuid:key")
    return uuid, key


@dataclass(frozen=True)
class NamespaceKey:
    namespace: str
    uuid: str
    key_hash: str

    def to_doc(self) -> dict[str, str]:
        return {"name": self.namespace, "uuid": self.uuid, "key": self.key_hash}


@dataclass(frozen=True)
class Subject:
    name: str
    namespaces: tuple[NamespaceKey, ...] = ()
    blocked: bool = False
    rev: str | None = None

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "_id": self.name,
            "subject": self.name,
            "namespaces": [n.to_doc() for n in self.namespaces],
            "blocked": self.blocked,
        }
        if self.rev:
            doc["_rev"] = self.rev
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Subject:
        return cls(
            name=doc["subject"],
            namespaces=tuple(NamespaceKey(n["name"], n["uuid"], n["key"]) for n in doc.get("namespaces", [])),
            blocked=bool(doc.get("blocked", False)),
            rev=doc.get("_rev"),
        )

    def with_blocked(self, blocked: bool) -> Subject:
        return replace(self, blocked=blocked)


@dataclass(frozen=True)
class Identity:
    """Who is calling: the result of checking an API key."""

    subject: str
    namespace: str
    uuid: str
    key_hash: str = field(repr=False)
    blocked: bool = False
