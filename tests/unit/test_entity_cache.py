"""The controller's entity cache: served from memory only while the shared revision index says it is current."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from app.core.errors import NotFound, StoreError
from app.store.cached import DELETED, CachedEntityStore

pytestmark = pytest.mark.unit


class Entities:
    """Dict-backed entity documents with CouchDB-like revs (a new rev on each write)."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.reads = 0

    def get_entity(self, doc_id: str) -> dict[str, Any]:
        self.reads += 1
        if doc_id not in self.docs:
            raise NotFound()
        return dict(self.docs[doc_id])

    def put_entity(self, doc: dict[str, Any]) -> str:
        rev = f"{len(self.docs) + 1}-{secrets.token_hex(4)}"
        self.docs[doc["_id"]] = {**doc, "_rev": rev}
        return rev

    def delete_entity(self, doc_id: str, rev: str) -> None:
        del self.docs[doc_id]

    def list_entities(self, namespace: str, entity_type: str, skip: int, limit: int) -> list[dict[str, Any]]:
        return list(self.docs.values())[skip:skip + limit]

    def count_entities(self, namespace: str, entity_type: str) -> int:
        return len(self.docs)


class Revisions:
    """The shared index, as Redis holds it for every controller process."""

    def __init__(self) -> None:
        self.revs: dict[str, str] = {}
        self.down = False

    def current(self, doc_id: str) -> str | None:
        self._check()
        return self.revs.get(doc_id)

    def record(self, doc_id: str, rev: str) -> None:
        self._check()
        self.revs[doc_id] = rev

    def offer(self, doc_id: str, rev: str) -> None:
        self._check()
        self.revs.setdefault(doc_id, rev)

    def _check(self) -> None:
        if self.down:
            raise StoreError("redis is down")


@pytest.fixture
def shared() -> tuple[Entities, Revisions]:
    return Entities(), Revisions()


def test_second_read_is_served_from_memory(shared: tuple[Entities, Revisions]) -> None:
    entities, revisions = shared
    entities.put_entity({"_id": "ns/a", "v": 1})
    cache = CachedEntityStore(entities, revisions)
    assert cache.get_entity("ns/a")["v"] == 1
    assert cache.get_entity("ns/a")["v"] == 1
    assert entities.reads == 1 and cache.hits == 1


def test_an_update_through_another_process_is_seen_on_the_next_read(shared: tuple[Entities, Revisions]) -> None:
    entities, revisions = shared
    one, other = CachedEntityStore(entities, revisions), CachedEntityStore(entities, revisions)
    doc = {"_id": "ns/a", "v": 1}
    rev = other.put_entity(doc)
    assert one.get_entity("ns/a")["v"] == 1
    other.put_entity({**doc, "_rev": rev, "v": 2})
    assert one.get_entity("ns/a")["v"] == 2


def test_a_delete_through_another_process_is_seen_on_the_next_read(shared: tuple[Entities, Revisions]) -> None:
    entities, revisions = shared
    one, other = CachedEntityStore(entities, revisions), CachedEntityStore(entities, revisions)
    rev = other.put_entity({"_id": "ns/a", "v": 1})
    one.get_entity("ns/a")
    other.delete_entity("ns/a", rev)
    assert revisions.revs["ns/a"] == DELETED
    with pytest.raises(NotFound):
        one.get_entity("ns/a")


def test_a_reader_never_overwrites_a_newer_recorded_revision(shared: tuple[Entities, Revisions]) -> None:
    entities, revisions = shared
    entities.docs["ns/a"] = {"_id": "ns/a", "_rev": "1-old", "v": 1}  # written before the index existed
    revisions.revs["ns/a"] = "2-new"  # a writer recorded a newer one meanwhile
    cache = CachedEntityStore(entities, revisions)
    cache.get_entity("ns/a")
    assert revisions.revs["ns/a"] == "2-new"
    cache.get_entity("ns/a")
    assert entities.reads == 2  # "1-old" is not current: read again, never served from memory


def test_an_unreachable_index_means_reading_the_store(shared: tuple[Entities, Revisions]) -> None:
    entities, revisions = shared
    cache = CachedEntityStore(entities, revisions)
    rev = cache.put_entity({"_id": "ns/a", "v": 1})
    cache.get_entity("ns/a")
    revisions.down = True
    entities.docs["ns/a"] = {"_id": "ns/a", "_rev": rev + "x", "v": 2}
    assert cache.get_entity("ns/a")["v"] == 2


def test_cached_documents_are_copies(shared: tuple[Entities, Revisions]) -> None:
    entities, revisions = shared
    cache = CachedEntityStore(entities, revisions)
    cache.put_entity({"_id": "ns/a", "parameters": [{"key": "k", "value": 1}]})
    cache.get_entity("ns/a")["parameters"].append({"key": "x"})
    assert cache.get_entity("ns/a")["parameters"] == [{"key": "k", "value": 1}]
