"""The controller's entity cache: served from memory only while the shared revision index says it is current,
or, while the store cannot be reached, for a bounded time if the index knows of nothing newer."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from app.core.errors import NotFound, StoreError, StoreUnavailable
from app.store.cached import DELETED, CachedEntityStore

pytestmark = pytest.mark.unit


class Entities:
    """Dict-backed entity documents with CouchDB-like revs (a new rev on each write)."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.reads = 0
        self.down = False  # True: reads fail as they do when the store cannot be reached

    def get_entity(self, doc_id: str) -> dict[str, Any]:
        self.reads += 1
        if self.down:
            raise StoreUnavailable("connection refused")
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


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def stale_cache(shared: tuple[Entities, Revisions], clock: Clock) -> CachedEntityStore:
    entities, revisions = shared
    return CachedEntityStore(entities, revisions, stale_s=300, clock=clock)


def test_while_the_store_is_down_an_entity_the_index_forgot_is_served_from_memory(
        shared: tuple[Entities, Revisions]) -> None:
    entities, revisions = shared
    clock = Clock()
    cache = stale_cache(shared, clock)
    entities.put_entity({"_id": "ns/a", "v": 1})
    cache.get_entity("ns/a")
    revisions.revs.clear()  # its index entry expired
    entities.down = True
    clock.now = 200
    assert cache.get_entity("ns/a")["v"] == 1
    assert cache.stale == 1
    clock.now = 301  # confirmed at 0: too long ago
    with pytest.raises(StoreUnavailable):
        cache.get_entity("ns/a")


def test_each_index_hit_confirms_the_copy_again(shared: tuple[Entities, Revisions]) -> None:
    entities, revisions = shared
    clock = Clock()
    cache = stale_cache(shared, clock)
    entities.put_entity({"_id": "ns/a", "v": 1})
    cache.get_entity("ns/a")
    cache.get_entity("ns/a")  # offered at the first read: a hit
    clock.now = 250
    cache.get_entity("ns/a")  # still current at 250
    revisions.revs.clear()
    entities.down = True
    clock.now = 500
    assert cache.get_entity("ns/a")["v"] == 1


def test_an_entity_changed_or_deleted_elsewhere_is_never_served_stale(shared: tuple[Entities, Revisions]) -> None:
    entities, revisions = shared
    clock = Clock()
    cache, other = stale_cache(shared, clock), CachedEntityStore(entities, revisions)
    rev_a = other.put_entity({"_id": "ns/a", "v": 1})
    other.put_entity({"_id": "ns/b", "v": 1})
    cache.get_entity("ns/a")
    cache.get_entity("ns/b")
    other.put_entity({"_id": "ns/a", "_rev": rev_a, "v": 2})  # changed: the index has its new rev
    other.delete_entity("ns/b", entities.docs["ns/b"]["_rev"])  # deleted: the index says so
    entities.down = True
    with pytest.raises(StoreUnavailable):
        cache.get_entity("ns/a")
    with pytest.raises(StoreUnavailable):
        cache.get_entity("ns/b")
    entities.down = False  # back: the store's answer, at once
    assert cache.get_entity("ns/a")["v"] == 2
    with pytest.raises(NotFound):
        cache.get_entity("ns/b")


def test_never_read_means_unavailable(shared: tuple[Entities, Revisions]) -> None:
    entities, _ = shared
    cache = stale_cache(shared, Clock())
    entities.put_entity({"_id": "ns/a", "v": 1})
    entities.down = True
    with pytest.raises(StoreUnavailable):
        cache.get_entity("ns/a")


def test_stale_copies_are_off_by_default(shared: tuple[Entities, Revisions]) -> None:
    entities, revisions = shared
    cache = CachedEntityStore(entities, revisions)
    entities.put_entity({"_id": "ns/a", "v": 1})
    cache.get_entity("ns/a")
    revisions.revs.clear()
    entities.down = True
    with pytest.raises(StoreUnavailable):
        cache.get_entity("ns/a")


def test_what_this_process_wrote_is_served_from_memory_at_its_new_revision(shared: tuple[Entities, Revisions]) -> None:
    entities, revisions = shared
    cache = CachedEntityStore(entities, revisions)
    rev = cache.put_entity({"_id": "ns/a", "v": 1})
    updated = {"_id": "ns/a", "_rev": rev, "v": 2, "parameters": ({"key": "k", "value": 1},)}
    new_rev = cache.put_entity(updated)
    updated["v"] = 3  # the caller's document is not the cached one
    reads = entities.reads
    got = cache.get_entity("ns/a")
    assert entities.reads == reads  # not read back
    assert got == {"_id": "ns/a", "_rev": new_rev, "v": 2, "parameters": [{"key": "k", "value": 1}]}  # as JSON
    assert got == entities.get_entity("ns/a") | {"parameters": [{"key": "k", "value": 1}]}


def test_a_write_elsewhere_after_ours_is_read_from_the_store(shared: tuple[Entities, Revisions]) -> None:
    entities, revisions = shared
    ours, other = CachedEntityStore(entities, revisions), CachedEntityStore(entities, revisions)
    rev = ours.put_entity({"_id": "ns/a", "v": 1})
    other.put_entity({"_id": "ns/a", "_rev": rev, "v": 2})
    assert ours.get_entity("ns/a")["v"] == 2


def test_a_document_with_attachments_is_read_back_after_a_write(shared: tuple[Entities, Revisions]) -> None:
    entities, revisions = shared
    cache = CachedEntityStore(entities, revisions)
    cache.put_entity({"_id": "ns/a", "v": 1, "_attachments": {"code": {"data": "eA=="}}})
    reads = entities.reads
    cache.get_entity("ns/a")
    assert entities.reads == reads + 1  # the store describes its attachments as stubs: read as it has them
