"""``CachedEntityStore``: an ``EntityStore`` that keeps documents in process memory and asks a shared
revision index (``app.state.revisions``) whether each is still current before using it.

Every write through any controller process records the new revision, so the next read anywhere sees it:
an action update is seen by the very next invoke. If the index cannot be reached, reads go to the store.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import OrderedDict

from app.core.entities import Document
from app.core.errors import StoreError
from app.core.ports import EntityStore, Revisions

log = logging.getLogger(__name__)

DELETED = "-"
"""The revision recorded for a deleted entity."""


class CachedEntityStore:
    """Implements ``EntityStore`` over ``inner``; listing and counting pass straight through."""

    def __init__(self, inner: EntityStore, revisions: Revisions, size: int = 1024) -> None:
        self._inner = inner
        self._revisions = revisions
        self._size = size
        self._docs: OrderedDict[str, Document] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_entity(self, doc_id: str) -> Document:
        try:
            current = self._revisions.current(doc_id)
        except StoreError as e:
            log.warning("entity cache bypassed: %s", e)
            return self._inner.get_entity(doc_id)
        if current is not None and current != DELETED:
            with self._lock:
                cached = self._docs.get(doc_id)
                if cached is not None and cached.get("_rev") == current:
                    self._docs.move_to_end(doc_id)
                    self.hits += 1
                    return copy.deepcopy(cached)
        self.misses += 1
        doc = self._inner.get_entity(doc_id)  # NotFound propagates (a deleted entity is read each time)
        with self._lock:
            self._docs[doc_id] = copy.deepcopy(doc)
            self._docs.move_to_end(doc_id)
            while len(self._docs) > self._size:
                self._docs.popitem(last=False)
        if current is None and isinstance(doc.get("_rev"), str):
            try:
                self._revisions.offer(doc_id, doc["_rev"])
            except StoreError as e:
                log.warning("entity cache: %s", e)
        return doc

    def put_entity(self, doc: Document) -> str:
        rev = self._inner.put_entity(doc)
        self._written(str(doc["_id"]), rev)
        return rev

    def delete_entity(self, doc_id: str, rev: str) -> None:
        self._inner.delete_entity(doc_id, rev)
        self._written(doc_id, DELETED)

    def list_entities(self, namespace: str, entity_type: str, skip: int, limit: int) -> list[Document]:
        return self._inner.list_entities(namespace, entity_type, skip, limit)

    def count_entities(self, namespace: str, entity_type: str) -> int:
        return self._inner.count_entities(namespace, entity_type)

    def _written(self, doc_id: str, rev: str) -> None:
        with self._lock:
            self._docs.pop(doc_id, None)
        # The write stands in the store; if the index missed it, say so loudly: other processes may serve
        # the previous revision until the index entry expires.
        try:
            self._revisions.record(doc_id, rev)
        except StoreError as e:
            log.error("entity %s changed but its revision could not be recorded: %s", doc_id, e)
