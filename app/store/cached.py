"""``CachedEntityStore``: an ``EntityStore`` that keeps documents in process memory and asks a shared
revision index (``app.state.revisions``) whether each is still current before using it.

Every write through any controller process records the new revision, so the next read anywhere sees it:
an action update is seen by the very next invoke. If the index cannot be reached, reads go to the store.

If the store cannot be reached (``StoreUnavailable``) when a document must be read from it, the copy in memory
is served instead while it was confirmed (read from the store, or found current in the index) at most
``stale_s`` ago, and the index records no other revision or a deletion: invokes of a cached action go on through
a store outage, and an update or delete made meanwhile is never hidden by the stale copy. Keep ``stale_s`` no
longer than the index's own lifetime: then an index entry of any write since the confirmation is still there.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from app.core.entities import Document
from app.core.errors import StoreError, StoreUnavailable
from app.core.ports import EntityStore, Revisions

log = logging.getLogger(__name__)

DELETED = "-"
"""The revision recorded for a deleted entity."""


@dataclass
class _Cached:
    doc: Document
    confirmed: float  # when the store or the index last said this revision is current


class CachedEntityStore:
    """Implements ``EntityStore`` over ``inner``; listing and counting pass straight through."""

    def __init__(self, inner: EntityStore, revisions: Revisions, size: int = 1024, *, stale_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._inner = inner
        self._revisions = revisions
        self._size = size
        self._stale_s = stale_s
        self._clock = clock
        self._docs: OrderedDict[str, _Cached] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.stale = 0

    def get_entity(self, doc_id: str) -> Document:
        try:
            current = self._revisions.current(doc_id)
        except StoreError:  # the index logs its own outages (once, then a count): not once per read here
            return self._read(doc_id, None, offer=False)
        if current is not None and current != DELETED:
            with self._lock:
                cached = self._docs.get(doc_id)
                if cached is not None and cached.doc.get("_rev") == current:
                    cached.confirmed = self._clock()
                    self._docs.move_to_end(doc_id)
                    self.hits += 1
                    return copy.deepcopy(cached.doc)
        return self._read(doc_id, current, offer=current is None)

    def _read(self, doc_id: str, current: str | None, *, offer: bool) -> Document:
        """From the store (``NotFound`` propagates: a deleted entity is read each time), or the stale copy while
        the store cannot be reached and ``current`` (the index's revision) names no other."""
        self.misses += 1
        try:
            doc = self._inner.get_entity(doc_id)
        except StoreUnavailable:
            stale = self._stale(doc_id, current)
            if stale is None:
                raise
            return stale
        self._keep(doc_id, copy.deepcopy(doc))
        if offer and isinstance(doc.get("_rev"), str):
            with contextlib.suppress(StoreError):  # a lost offer costs the next read a store read
                self._revisions.offer(doc_id, doc["_rev"])
        return doc

    def _keep(self, doc_id: str, doc: Document) -> None:
        with self._lock:
            self._docs[doc_id] = _Cached(doc, self._clock())
            self._docs.move_to_end(doc_id)
            while len(self._docs) > self._size:
                self._docs.popitem(last=False)

    def _stale(self, doc_id: str, current: str | None) -> Document | None:
        if current is not None:  # the index knows of a newer revision or a deletion: the copy is not it
            return None
        with self._lock:
            cached = self._docs.get(doc_id)
            if cached is None or self._clock() - cached.confirmed > self._stale_s:
                return None
            self.stale += 1
            return copy.deepcopy(cached.doc)

    def put_entity(self, doc: Document) -> str:
        rev = self._inner.put_entity(doc)
        self._written(str(doc["_id"]), rev)
        if "_attachments" not in doc:  # with attachments, the store's copy holds stubs that only it can describe
            # Kept as the store now holds it (its JSON, at the new revision): the first invoke after an update
            # through this process does not read it back (1.2-1.4 ms of a prewarm hit, docs/benchmarks.md).
            self._keep(str(doc["_id"]), {**json.loads(json.dumps(doc)), "_rev": rev})
        return rev

    def get_attachment(self, doc_id: str, rev: str, name: str) -> bytes:
        return self._inner.get_attachment(doc_id, rev, name)  # large and read once per revision: not kept here

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
