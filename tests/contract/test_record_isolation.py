"""Both stores against a batch of activation records with one the store must refuse (issue 14, finding 4):
the real CouchDB-API server (pouchdb-server, or ``$SQUALL_TEST_COUCHDB_URL``) refuses a ``_bulk_docs`` request
with NaN anywhere in it as ``invalid_json``, and SQLite cannot hold a lone surrogate; each store refuses that one
record and stores the others, and the writer then stores an error record in its place."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core.entities import Activation, Document, Status
from app.core.errors import NotFound
from app.store.couch_client import CouchClient
from app.store.couchdb import CouchStore
from app.store.sqlite import SqliteStore
from config.settings import CouchDBSettings
from workers.records import REFUSED, RecordRefused, RecordWriter

pytestmark = pytest.mark.contract

NO_PAUSE = (0.0,)


@pytest.fixture
def couch(couchdb_url: str) -> Iterator[CouchStore]:
    prefix = f"t{secrets.token_hex(6)}_"
    store = CouchStore(CouchDBSettings(url=couchdb_url, prefix=prefix, timeout_s=10.0))
    try:
        store.setup()
        yield store
    finally:
        store.close()
        cleanup = CouchClient(couchdb_url, timeout_s=10.0)
        try:
            for name in ("subjects", "whisks", "activations", "alarms"):
                cleanup.database(prefix + name).drop()
        finally:
            cleanup.close()


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "squall.db")
    try:
        store.setup()
        yield store
    finally:
        store.close()


def record(i: int, result: Any = None) -> Document:
    return Activation.ended(namespace="alice", name="a", version="0.0.1", subject="alice",
                            activation_id=f"{i:032x}", start=1000 + i, end=1001 + i, status=Status.SUCCESS,
                            result={"x": i} if result is None else {"x": result}).to_doc()


def test_couchdb_refuses_the_nan_record_and_stores_the_rest_of_its_batch(couch: CouchStore) -> None:
    docs = [record(i, float("nan") if i == 3 else None) for i in range(7)]
    outcomes = couch.put_activations(docs)
    assert outcomes[3] is not None and "invalid_json" in outcomes[3]  # what the real server says
    assert [o is None for o in outcomes] == [i != 3 for i in range(7)]
    for i, doc in enumerate(docs):
        if i == 3:
            with pytest.raises(NotFound):
                couch.get_activation("alice", doc["activationId"])
        else:
            assert couch.get_activation("alice", doc["activationId"])["response"]["result"] == {"x": i}


def test_sqlite_refuses_records_it_could_not_give_back_and_stores_the_rest(sqlite: SqliteStore) -> None:
    docs = [record(0), record(1, float("inf")), record(2, "\ud800"), record(3)]
    outcomes = sqlite.put_activations(docs)
    assert [o is None for o in outcomes] == [True, False, False, True]
    assert sqlite.count_activations("alice", None, None, None) == 2


@pytest.mark.parametrize("which", ["couch", "sqlite"])
def test_the_writer_stores_an_error_record_in_place_of_the_refused_one(which: str,
                                                                        request: pytest.FixtureRequest) -> None:
    store: CouchStore | SqliteStore = request.getfixturevalue(which)
    writer = RecordWriter(store, retry_pauses_s=NO_PAUSE)
    try:
        writer.store(record(1))
        with pytest.raises(RecordRefused):
            writer.store(record(2, float("nan")))
        writer.store(record(3))
    finally:
        writer.close()
    kept = Activation.from_doc(store.get_activation("alice", f"{2:032x}"))
    assert kept.status == Status.WHISK_ERROR and kept.result == {"error": REFUSED}
    assert store.count_activations("alice", None, None, None) == 3
