"""In-memory stand-ins for OUR ports (EntityStore, ActivationStore), for tests that drive the invoker
directly. The real stores are tested in tests/contract; nothing here imitates CouchDB's wire behaviour."""

from __future__ import annotations

import secrets
from typing import Any

from app.core.entities import Action
from app.core.errors import NotFound, StoreError


class DictEntityStore:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.reads = 0
        self.broken = False  # True: every read fails as a store that is down would

    def put_action(self, action: Action) -> Action:
        stamped = action.stamped(f"1-{secrets.token_hex(8)}")
        self.docs[action.path.doc_id] = stamped.to_doc()
        return stamped

    def get_entity(self, doc_id: str) -> dict[str, Any]:
        self.reads += 1
        if self.broken:
            raise StoreError()
        if doc_id not in self.docs:
            raise NotFound()
        return dict(self.docs[doc_id])


class DictActivationStore:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    def put_activation(self, doc: dict[str, Any]) -> None:
        self.docs.setdefault(doc["_id"], doc)

    def get_activation(self, namespace: str, activation_id: str) -> dict[str, Any]:
        try:
            return self.docs[f"{namespace}/{activation_id}"]
        except KeyError:
            raise NotFound() from None
