"""The store contract: every store implementation passes this one suite.

Add an implementation by naming its fixture in ``STORE_FIXTURES``; the fixture yields a fresh, set-up store of
its own and removes everything it created afterwards. Store-specific checks follow the shared suite.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import urllib3

from app.core import attachments
from app.core.entities import Action, Activation, Document, Exec, Status
from app.core.errors import Conflict, Invalid, NotFound, StoreError
from app.core.identities import NamespaceKey, Subject, hash_key
from app.core.limits import ActionLimits
from app.core.names import EntityPath
from app.store import Store, resolve_store
from app.store.couch_client import CouchClient
from app.store.couchdb import CouchStore
from app.store.sqlite import SqliteStore
from config.settings import CouchDBSettings

pytestmark = pytest.mark.contract

STORE_FIXTURES = {"couchdb": "couch_store", "sqlite": "sqlite_store"}
COUCH_DATABASES = ("subjects", "whisks", "activations", "alarms")


@pytest.fixture
def couch_store(couchdb_url: str) -> Iterator[CouchStore]:
    """A set-up CouchStore with databases of its own (``t<hex>_*``), dropped afterwards."""
    prefix = f"t{secrets.token_hex(6)}_"
    store = CouchStore(CouchDBSettings(url=couchdb_url, prefix=prefix, timeout_s=10.0))
    try:
        store.setup()
        yield store
    finally:
        store.close()
        cleanup = CouchClient(couchdb_url, timeout_s=10.0)
        try:
            for name in COUCH_DATABASES:
                cleanup.database(prefix + name).drop()
        finally:
            cleanup.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    """A set-up SqliteStore in a file of its own (removed with ``tmp_path``)."""
    store = SqliteStore(tmp_path / "squall.db")
    try:
        store.setup()
        yield store
    finally:
        store.close()


@pytest.fixture(params=sorted(STORE_FIXTURES))
def store(request: pytest.FixtureRequest) -> Store:
    fixture: Store = request.getfixturevalue(STORE_FIXTURES[request.param])
    return fixture


# -- documents ----------------------------------------------------------------------------------------------


def subject(name: str, *namespaces: tuple[str, str], blocked: bool = False) -> Subject:
    """A subject owning ``(namespace, uuid)`` pairs, each with a hashed key."""
    keys = tuple(NamespaceKey(ns, uuid, hash_key(f"key-of-{uuid}")) for ns, uuid in namespaces)
    return Subject(name, keys, blocked=blocked)


def action_doc(namespace: str, name: str, updated: int, package: str | None = None) -> Document:
    return Action(
        path=EntityPath(namespace, name, package),
        exec=Exec(kind="python:3", code="def main(args):\n    return args\n"),
        limits=ActionLimits(timeout=60_000, memory=256, logs=10, concurrency=1),
        updated=updated,
    ).to_doc()


def package_doc(namespace: str, name: str, updated: int) -> Document:
    return {"_id": f"{namespace}/{name}", "entityType": "package", "namespace": namespace, "name": name,
            "version": "0.0.1", "publish": False, "binding": {}, "parameters": [], "annotations": [],
            "updated": updated}


def activation_doc(namespace: str, name: str, start: int, package: str | None = None,
                   activation_id: str | None = None) -> Document:
    path = f"{namespace}/{package}/{name}" if package else f"{namespace}/{name}"
    return Activation(
        namespace=namespace, name=name, version="0.0.1", subject=namespace,
        activation_id=activation_id or secrets.token_hex(16), start=start, end=start + 5,
        status=Status.SUCCESS, result={"ok": True}, logs=["2024-01-01T00:00:00.000Z stdout: hi"],
        annotations=[{"key": "path", "value": path}, {"key": "kind", "value": "python:3"}],
    ).to_doc()


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ids(docs: list[Document]) -> list[str]:
    return [d["_id"] for d in docs]


# -- setup --------------------------------------------------------------------------------------------------


def test_setup_is_idempotent(store: Store) -> None:
    store.setup()
    store.setup()
    store.put_entity(action_doc("ns", "a", updated=1))
    assert ids(store.list_entities("ns", "action", skip=0, limit=10)) == ["ns/a"]


# -- subjects -----------------------------------------------------------------------------------------------


def test_subject_put_get_list_delete(store: Store) -> None:
    alice = store.put_subject(subject("alice", ("alice", "u-alice"), ("shared", "u-shared")))
    bob = store.put_subject(subject("bob", ("bob", "u-bob")))
    assert alice.rev and bob.rev

    got = store.get_subject("alice")
    assert got == alice
    assert [n.namespace for n in got.namespaces] == ["alice", "shared"]
    assert sorted(s.name for s in store.list_subjects()) == ["alice", "bob"]

    store.delete_subject(alice)
    with pytest.raises(NotFound):
        store.get_subject("alice")
    assert [s.name for s in store.list_subjects()] == ["bob"]
    with pytest.raises(NotFound):
        store.delete_subject(alice)


def test_subject_get_missing_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_subject("nobody")


def test_subject_stale_rev_is_conflict(store: Store) -> None:
    first = store.put_subject(subject("carol", ("carol", "u-carol")))
    second = store.put_subject(first.with_blocked(True))
    assert second.rev != first.rev
    assert store.get_subject("carol").blocked

    with pytest.raises(Conflict):
        store.put_subject(first.with_blocked(False))  # stale rev
    with pytest.raises(Conflict):
        store.put_subject(subject("carol", ("carol", "u-other")))  # create over an existing one
    with pytest.raises(Conflict):
        store.delete_subject(first)  # stale rev
    with pytest.raises(Conflict):
        store.delete_subject(dataclasses.replace(second, rev=None))  # no rev at all
    assert store.get_subject("carol") == second


def test_identity_by_uuid(store: Store) -> None:
    dave = store.put_subject(subject("dave", ("dave", "u-dave"), ("team", "u-team")))

    identity = store.identity_by_uuid("u-team")
    assert (identity.subject, identity.namespace, identity.uuid) == ("dave", "team", "u-team")
    assert identity.key_hash == dave.namespaces[1].key_hash
    assert not identity.blocked
    assert store.identity_by_uuid("u-dave").namespace == "dave"

    with pytest.raises(NotFound):
        store.identity_by_uuid("u-unknown")
    store.delete_subject(dave)
    with pytest.raises(NotFound):
        store.identity_by_uuid("u-dave")


def test_identity_carries_blocked_flag(store: Store) -> None:
    eve = store.put_subject(subject("eve", ("eve", "u-eve"), blocked=True))
    assert store.identity_by_uuid("u-eve").blocked

    store.put_subject(eve.with_blocked(False))
    assert not store.identity_by_uuid("u-eve").blocked


def test_identity_by_namespace(store: Store) -> None:
    """The owner a web action runs as: found by namespace name, never a blocked subject's, the first subject by
    name when several hold the namespace, gone with the subject."""
    gina = store.put_subject(subject("gina", ("gina", "u-gina"), ("shop", "u-shop")))
    identity = store.identity_by_namespace("shop")
    assert (identity.subject, identity.namespace, identity.uuid) == ("gina", "shop", "u-shop")
    assert identity.key_hash == gina.namespaces[1].key_hash and not identity.blocked
    assert store.identity_by_namespace("gina").uuid == "u-gina"
    with pytest.raises(NotFound):
        store.identity_by_namespace("gin")  # no prefix match
    with pytest.raises(NotFound):
        store.identity_by_namespace("nobody")

    store.put_subject(subject("zed", ("shop", "u-zed")))
    assert store.identity_by_namespace("shop").subject == "gina"
    gina = store.put_subject(gina.with_blocked(True))
    assert store.identity_by_namespace("shop").subject == "zed"
    with pytest.raises(NotFound):
        store.identity_by_namespace("gina")
    store.put_subject(gina.with_blocked(False))
    assert store.identity_by_namespace("gina").uuid == "u-gina"
    store.delete_subject(store.get_subject("gina"))
    with pytest.raises(NotFound):
        store.identity_by_namespace("gina")
    assert store.identity_by_namespace("shop").subject == "zed"


# -- entities -----------------------------------------------------------------------------------------------


def test_shared_secret_is_stored_once_and_then_the_same_for_everyone(store: Store) -> None:
    first = store.shared_secret("admin-session", "first-candidate")
    assert first == "first-candidate"
    assert store.shared_secret("admin-session", "second-candidate") == "first-candidate"
    assert store.shared_secret("other", "x") == "x"
    assert all(s.name != "admin-session" for s in store.list_subjects())  # never mistaken for a subject


def test_entity_put_get_update_delete(store: Store) -> None:
    doc = action_doc("ns", "hello", updated=100)
    rev1 = store.put_entity(doc)

    got = store.get_entity("ns/hello")
    assert got["_rev"] == rev1
    assert {k: v for k, v in got.items() if k != "_rev"} == doc

    rev2 = store.put_entity({**got, "version": "0.0.2", "updated": 200})
    assert rev2 != rev1
    assert store.get_entity("ns/hello")["version"] == "0.0.2"

    store.delete_entity("ns/hello", rev2)
    with pytest.raises(NotFound):
        store.get_entity("ns/hello")


def test_entity_ids_with_packages_and_odd_characters(store: Store) -> None:
    store.put_entity(action_doc("ns", "say hi & bye", updated=1, package="my-pkg"))
    assert store.get_entity("ns/my-pkg/say hi & bye")["name"] == "say hi & bye"
    with pytest.raises(NotFound):
        store.get_entity("ns/say hi & bye")


def test_entity_conflicts(store: Store) -> None:
    rev1 = store.put_entity(action_doc("ns", "a", updated=1))
    with pytest.raises(Conflict):
        store.put_entity(action_doc("ns", "a", updated=2))  # create twice
    rev2 = store.put_entity({**action_doc("ns", "a", updated=3), "_rev": rev1})
    with pytest.raises(Conflict):
        store.put_entity({**action_doc("ns", "a", updated=4), "_rev": rev1})  # stale update
    with pytest.raises(Conflict):
        store.delete_entity("ns/a", rev1)  # stale delete
    assert store.get_entity("ns/a")["_rev"] == rev2


def test_entity_missing(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_entity("ns/nothing")
    with pytest.raises(NotFound):
        store.delete_entity("ns/nothing", "1-0123456789abcdef0123456789abcdef")


def test_entity_list_newest_first_with_skip_and_limit(store: Store) -> None:
    for i, name in enumerate(["a", "b", "c", "d", "e"]):
        store.put_entity(action_doc("ns", name, updated=1000 + i))
    store.put_entity(package_doc("ns", "p", updated=5000))
    store.put_entity(action_doc("other", "z", updated=9999))

    newest_first = ["ns/e", "ns/d", "ns/c", "ns/b", "ns/a"]
    assert ids(store.list_entities("ns", "action", skip=0, limit=10)) == newest_first
    assert ids(store.list_entities("ns", "action", skip=1, limit=2)) == ["ns/d", "ns/c"]
    assert ids(store.list_entities("ns", "action", skip=4, limit=2)) == ["ns/a"]
    assert store.list_entities("ns", "action", skip=5, limit=2) == []
    assert ids(store.list_entities("ns", "package", skip=0, limit=10)) == ["ns/p"]
    assert store.list_entities("nobody", "action", skip=0, limit=10) == []
    assert store.count_entities("ns", "action") == 5
    assert store.count_entities("ns", "package") == 1
    assert store.count_entities("nobody", "action") == 0


def test_entity_list_package_contents(store: Store) -> None:
    store.put_entity(package_doc("ns", "pkg", updated=10))
    store.put_entity(action_doc("ns", "top", updated=20))
    store.put_entity(action_doc("ns", "inner", updated=30, package="pkg"))
    store.put_entity(action_doc("ns", "elsewhere", updated=40, package="pkg2"))
    store.put_entity(action_doc("ns2", "inner", updated=50, package="pkg"))

    assert ids(store.list_entities("ns", "action", skip=0, limit=10)) == [
        "ns/pkg2/elsewhere", "ns/pkg/inner", "ns/top"]
    assert ids(store.list_entities("ns/pkg", "action", skip=0, limit=10)) == ["ns/pkg/inner"]
    assert ids(store.list_entities("ns2", "action", skip=0, limit=10)) == ["ns2/pkg/inner"]
    assert store.count_entities("ns", "action") == 3
    assert store.count_entities("ns/pkg", "action") == 1
    assert store.count_entities("ns/nopkg", "action") == 0


def test_entity_list_forgets_deleted(store: Store) -> None:
    rev = store.put_entity(action_doc("ns", "gone", updated=1))
    store.put_entity(action_doc("ns", "kept", updated=2))
    store.delete_entity("ns/gone", rev)
    assert ids(store.list_entities("ns", "action", skip=0, limit=10)) == ["ns/kept"]
    assert store.count_entities("ns", "action") == 1


# -- activations --------------------------------------------------------------------------------------------


def test_activation_put_is_idempotent_and_get(store: Store) -> None:
    doc = activation_doc("guest", "hello", start=1_700_000_000_000)
    store.put_activation(doc)
    store.put_activation(doc)  # a redelivery
    store.put_activation({**doc, "logs": ["a second attempt"]})  # a second record for the same id is dropped

    got = store.get_activation("guest", doc["activationId"])
    assert {k: v for k, v in got.items() if k != "_rev"} == doc
    assert store.count_activations("guest", None, None, None) == 1


def test_activation_of_another_namespace_is_not_found(store: Store) -> None:
    doc = activation_doc("guest", "hello", start=1)
    store.put_activation(doc)
    with pytest.raises(NotFound):
        store.get_activation("intruder", doc["activationId"])
    with pytest.raises(NotFound):
        store.get_activation("guest", secrets.token_hex(16))


def test_activation_list_newest_first_with_skip_and_limit(store: Store) -> None:
    docs = [activation_doc("guest", "a", start=1000 + i) for i in range(5)]
    for doc in docs:
        store.put_activation(doc)
    store.put_activation(activation_doc("other", "a", start=5000))
    newest_first = [d["_id"] for d in reversed(docs)]

    assert ids(store.list_activations("guest", None, None, None, skip=0, limit=10)) == newest_first
    assert ids(store.list_activations("guest", None, None, None, skip=1, limit=2)) == newest_first[1:3]
    assert store.list_activations("guest", None, None, None, skip=5, limit=10) == []
    assert store.list_activations("nobody", None, None, None, skip=0, limit=10) == []
    assert store.count_activations("guest", None, None, None) == 5
    assert store.count_activations("nobody", None, None, None) == 0


def test_activation_list_by_name(store: Store) -> None:
    plain = activation_doc("guest", "a", start=100)
    packaged = activation_doc("guest", "a", start=200, package="pkg")
    other = activation_doc("guest", "b", start=300)
    foreign = activation_doc("other", "a", start=400)
    for doc in (plain, packaged, other, foreign):
        store.put_activation(doc)

    assert ids(store.list_activations("guest", "a", None, None, skip=0, limit=10)) == [plain["_id"]]
    assert ids(store.list_activations("guest", "pkg/a", None, None, skip=0, limit=10)) == [packaged["_id"]]
    assert ids(store.list_activations("guest", "b", None, None, skip=0, limit=10)) == [other["_id"]]
    assert store.list_activations("guest", "c", None, None, skip=0, limit=10) == []
    assert store.count_activations("guest", "a", None, None) == 1
    assert store.count_activations("guest", "pkg/a", None, None) == 1
    assert store.count_activations("guest", None, None, None) == 3


def test_activation_list_since_upto_are_inclusive(store: Store) -> None:
    docs = {start: activation_doc("guest", "a", start=start) for start in (100, 200, 300, 400)}
    for doc in docs.values():
        store.put_activation(doc)

    def listed(name: str | None, since: int | None, upto: int | None) -> list[int]:
        return [d["start"] for d in store.list_activations("guest", name, since, upto, skip=0, limit=10)]

    assert listed(None, 200, None) == [400, 300, 200]
    assert listed(None, None, 300) == [300, 200, 100]
    assert listed(None, 200, 300) == [300, 200]
    assert listed(None, 201, 299) == []
    assert listed(None, 300, 200) == []
    assert listed("a", 150, 350) == [300, 200]
    assert listed("a", 400, 400) == [400]
    assert store.count_activations("guest", None, 200, 300) == 2
    assert store.count_activations("guest", "a", 150, None) == 3
    assert store.count_activations("guest", "a", None, 100) == 1
    assert store.count_activations("guest", None, 300, 200) == 0
    assert [d["start"] for d in store.list_activations("guest", "a", 100, 400, skip=1, limit=2)] == [300, 200]


# -- alarms -------------------------------------------------------------------------------------------------


def alarm_doc(trigger: str, next_fire: int | None, status: str = "active") -> Document:
    return {"_id": f"guest/{trigger}", "kind": "once", "namespace": "guest", "trigger": trigger,
            "auth_key": "u:k", "created": 1, "date": next_fire, "status": status, "next_fire": next_fire}


def test_alarm_put_get_claim_and_delete(store: Store) -> None:
    rev = store.put_alarm(alarm_doc("a", 1000))
    doc = store.get_alarm("guest/a")
    assert doc["_rev"] == rev and doc["next_fire"] == 1000
    claimed = {**doc, "next_fire": 2000}
    store.put_alarm(claimed)
    with pytest.raises(Conflict):  # a second claim with the same (now stale) revision loses
        store.put_alarm({**doc, "next_fire": 3000})
    with pytest.raises(NotFound):
        store.get_alarm("guest/none")
    current = store.get_alarm("guest/a")
    store.delete_alarm("guest/a", current["_rev"])
    with pytest.raises(NotFound):
        store.get_alarm("guest/a")


def test_due_alarms_are_active_ones_at_or_before_now_earliest_first(store: Store) -> None:
    assert store.next_alarm_time() is None
    store.put_alarm(alarm_doc("late", 3000))
    store.put_alarm(alarm_doc("early", 1000))
    store.put_alarm(alarm_doc("now", 2000))
    store.put_alarm(alarm_doc("paused", 500, status="paused"))
    store.put_alarm(alarm_doc("over", None))
    assert [d["trigger"] for d in store.due_alarms(2000, 10)] == ["early", "now"]
    assert [d["trigger"] for d in store.due_alarms(5000, 1)] == ["early"]
    assert store.next_alarm_time() == 1000


# -- CouchDB only -------------------------------------------------------------------------------------------


def test_couch_setup_rewrites_only_changed_designs(couch_store: CouchStore, couchdb_url: str) -> None:
    client = CouchClient(couchdb_url, timeout_s=10.0)
    try:
        databases = [client.database(couch_store.settings.prefix + name) for name in COUCH_DATABASES]
        before = [db.get("_design/squall")["_rev"] for db in databases]
        couch_store.setup()
        assert [db.get("_design/squall")["_rev"] for db in databases] == before

        stale = databases[1].get("_design/squall")
        stale["views"] = {"old": {"map": "function (doc) { emit(doc._id, null); }"}}
        databases[1].put(stale)
        couch_store.setup()
        assert "entities" in databases[1].get("_design/squall")["views"]
    finally:
        client.close()


def test_bulk_activations_store_all_and_count_redeliveries_as_stored(store: Store) -> None:
    docs = [activation_doc("guest", "bulk", start=i) for i in range(5)]
    store.put_activation(docs[0])  # stored before: its bulk write conflicts, which counts as stored
    assert store.put_activations([*docs, {**docs[1], "logs": ["again"]}]) == [None] * 6
    assert store.count_activations("guest", "bulk", None, None) == 5
    assert store.get_activation("guest", docs[1]["activationId"])["logs"] == docs[1]["logs"]
    assert store.put_activations([]) == []


def test_couch_dead_server_is_store_error() -> None:
    store = CouchStore(CouchDBSettings(url=f"http://127.0.0.1:{unused_port()}", prefix="t_", timeout_s=2.0))
    try:
        with pytest.raises(StoreError) as info:
            store.get_entity("ns/a")
        assert isinstance(info.value.__cause__, urllib3.exceptions.HTTPError)
        with pytest.raises(StoreError):
            store.setup()
    finally:
        store.close()


def test_couch_queries_before_setup_are_store_errors(couchdb_url: str) -> None:
    store = CouchStore(CouchDBSettings(url=couchdb_url, prefix=f"t{secrets.token_hex(6)}_", timeout_s=10.0))
    try:
        with pytest.raises(StoreError):
            store.put_entity(action_doc("ns", "a", updated=1))
        with pytest.raises(StoreError):
            store.list_entities("ns", "action", skip=0, limit=10)
    finally:
        store.close()


def test_couch_sends_credentials_and_accept_header() -> None:
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text='{"_id": "ns/a", "_rev": "1-x"}', headers={"ETag": 'W/"not-a-rev"'})

    settings = CouchDBSettings(url="http://admin:p%40ss@couch.example:5984/", prefix="t_")
    with CouchStore(settings, transport=httpx.MockTransport(server)) as store:
        assert store.get_entity("ns/a")["_rev"] == "1-x"
    (request,) = seen
    assert request.url == "http://couch.example:5984/t_whisks/ns%2Fa"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"admin:p@ss").decode()


def test_couch_non_json_reply_is_store_error() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>proxy</html>", headers={"Content-Type": "text/html"})

    settings = CouchDBSettings(url="http://couch.example:5984", prefix="t_")
    with CouchStore(settings, transport=httpx.MockTransport(server)) as store, pytest.raises(StoreError):
        store.get_entity("ns/a")


# -- SQLite only --------------------------------------------------------------------------------------------


def test_sqlite_keeps_documents_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "data" / "squall.db"
    with SqliteStore(path) as first:
        first.setup()
        rev = first.put_entity(action_doc("ns", "kept", updated=1))
        first.put_activation(activation_doc("ns", "kept", start=10, activation_id="a" * 32))
        first.put_subject(subject("frank", ("frank", "u-frank")))
    with SqliteStore(path) as second:
        second.setup()
        assert second.get_entity("ns/kept")["_rev"] == rev
        assert second.get_activation("ns", "a" * 32)["start"] == 10
        assert second.identity_by_uuid("u-frank").namespace == "frank"


def test_sqlite_two_stores_on_one_file_see_each_other_and_conflict(tmp_path: Path) -> None:
    """Two connections stand for two processes (gunicorn workers and an invoker) sharing the file."""
    with SqliteStore(tmp_path / "s.db") as one, SqliteStore(tmp_path / "s.db") as two:
        one.setup()
        two.setup()
        rev = one.put_entity(action_doc("ns", "a", updated=1))
        assert two.get_entity("ns/a")["_rev"] == rev
        two.put_entity({**action_doc("ns", "a", updated=2), "_rev": rev})
        with pytest.raises(Conflict):
            one.put_entity({**action_doc("ns", "a", updated=3), "_rev": rev})


def test_sqlite_concurrent_updates_from_threads_lose_nothing(sqlite_store: SqliteStore) -> None:
    """Threads racing read-modify-write on one document: each update lands once or is a Conflict."""
    sqlite_store.put_entity({**action_doc("ns", "counter", updated=0), "count": 0})
    applied: list[int] = []
    errors: list[BaseException] = []

    def bump(worker: int) -> None:
        try:
            for _ in range(25):
                while True:
                    doc = sqlite_store.get_entity("ns/counter")
                    try:
                        sqlite_store.put_entity({**doc, "count": doc["count"] + 1})
                        applied.append(worker)
                        break
                    except Conflict:
                        continue
                sqlite_store.put_activation(activation_doc("ns", "counter", start=1))
        except BaseException as e:  # surfaced below: an assertion in a thread would be lost
            errors.append(e)

    threads = [threading.Thread(target=bump, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sqlite_store.get_entity("ns/counter")["count"] == len(applied) == 200
    assert sqlite_store.count_activations("ns", None, None, None) == 200


def test_sqlite_queries_before_setup_are_store_errors(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "fresh.db") as store:
        with pytest.raises(StoreError):
            store.put_entity(action_doc("ns", "a", updated=1))
        with pytest.raises(StoreError):
            store.list_entities("ns", "action", skip=0, limit=10)


def test_sqlite_unopenable_file_is_store_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises(StoreError):
        SqliteStore(tmp_path / "a-file" / "squall.db")


# -- the alias table ----------------------------------------------------------------------------------------


def test_resolve_store() -> None:
    assert resolve_store("couchdb") is CouchStore
    assert resolve_store("app.store.couchdb:CouchStore") is CouchStore
    assert resolve_store("sqlite") is SqliteStore
    with pytest.raises(Invalid, match="Did you mean 'couchdb'"):
        resolve_store("couchbd")
    with pytest.raises(Invalid, match="Known stores: couchdb, sqlite"):
        resolve_store("zzz")
    with pytest.raises(Invalid, match="cannot be loaded"):
        resolve_store("app.store.nothing_here:Store")


def test_namespace_limits_are_stored_replaced_and_removed(store: Store) -> None:
    namespace = f"lim{secrets.token_hex(3)}"
    assert store.get_limits(namespace) == {}
    store.put_limits(namespace, {"invocationsPerMinute": 5, "firesPerMinute": 0})
    assert store.get_limits(namespace) == {"invocationsPerMinute": 5, "firesPerMinute": 0}
    store.put_limits(namespace, {"firesPerMinute": 9})  # replaces, does not merge
    assert store.get_limits(namespace) == {"firesPerMinute": 9}
    store.put_limits(namespace, {})
    assert store.get_limits(namespace) == {}
    assert namespace not in {s.name for s in store.list_subjects()}  # not a subject


# -- attached code (docs/production.md, "Large action code") --------------------------------------------------

INLINE_BYTES = 1024  # small, so the attached cases stay quick; the threshold is a setting


def zip_action(namespace: str, name: str, data: bytes, updated: int = 1, rev: str | None = None) -> Action:
    """An action whose code is ``data`` as a zip's base64, as a client sends it."""
    return Action(path=EntityPath(namespace, name), limits=ActionLimits(timeout=60_000, memory=256, logs=10,
                                                                          concurrency=1),
                  exec=Exec(kind="python:3", code=base64.b64encode(data).decode(), binary=True), updated=updated,
                  rev=rev)


def put_action(store: Store, action: Action) -> tuple[str, Document]:
    """Store ``action`` as the action service does; returns its rev and the stored document as read back."""
    rev = store.put_entity(attachments.detach(action.to_doc(), INLINE_BYTES))
    return rev, store.get_entity(action.path.doc_id)


def test_attached_code_round_trips_and_stays_out_of_the_document(store: Store) -> None:
    data = secrets.token_bytes(300_000)
    rev, got = put_action(store, zip_action("ns", "big", data))

    assert got["_rev"] == rev
    ref = attachments.AttachedCode.from_doc(got["exec"]["code"])
    assert ref is not None and ref.length == len(data) and ref.content_type == attachments.BINARY_TYPE
    assert len(json.dumps(got)) < 2_000  # a reference, not the code
    assert store.get_attachment("ns/big", rev, ref.name) == data
    action = Action.from_doc(got)
    assert action.exec.code is None and action.exec.attached == ref and action.exec.binary
    assert ref.decode(store.get_attachment("ns/big", rev, ref.name)) == base64.b64encode(data).decode()
    listed = store.list_entities("ns", "action", 0, 10)
    assert [d["_id"] for d in listed] == ["ns/big"] and len(json.dumps(listed)) < 2_000


def test_text_code_over_the_threshold_is_attached_as_utf8(store: Store) -> None:
    code = "def main(args):\n    return {'é': 1}\n" + "# padding\n" * 200
    doc = action_doc("ns", "text", updated=1)
    doc["exec"]["code"] = code
    rev = store.put_entity(attachments.detach(doc, INLINE_BYTES))
    ref = attachments.AttachedCode.from_doc(store.get_entity("ns/text")["exec"]["code"])
    assert ref is not None and ref.content_type == attachments.TEXT_TYPE
    assert ref.decode(store.get_attachment("ns/text", rev, ref.name)) == code


def test_code_under_the_threshold_stays_inline(store: Store) -> None:
    rev, got = put_action(store, zip_action("ns", "small", b"tiny zip"))
    assert got["exec"]["code"] == base64.b64encode(b"tiny zip").decode()
    assert Action.from_doc(got).exec.attached is None and rev


def test_update_replaces_the_attachment_and_the_old_code_is_not_served_by_the_new_revision(store: Store) -> None:
    old, new = secrets.token_bytes(5_000), secrets.token_bytes(6_000)
    rev1, got1 = put_action(store, zip_action("ns", "a", old))
    ref1 = Action.from_doc(got1).exec.attached
    rev2, got2 = put_action(store, zip_action("ns", "a", new, updated=2, rev=rev1))
    ref2 = Action.from_doc(got2).exec.attached
    assert ref1 is not None and ref2 is not None and ref2.name != ref1.name and rev2 != rev1
    assert store.get_attachment("ns/a", rev2, ref2.name) == new
    with pytest.raises(NotFound):
        store.get_attachment("ns/a", rev2, ref1.name)  # dropped with the update


def test_update_without_new_code_keeps_the_attachment(store: Store) -> None:
    data = secrets.token_bytes(5_000)
    rev1, got1 = put_action(store, zip_action("ns", "keep", data))
    action = Action.from_doc(got1)
    rev2, got2 = put_action(store, dataclasses.replace(action, version="0.0.2", updated=2))
    assert rev2 != rev1 and got2["version"] == "0.0.2"
    assert Action.from_doc(got2).exec.attached == action.exec.attached
    assert action.exec.attached is not None
    assert store.get_attachment("ns/keep", rev2, action.exec.attached.name) == data


def test_update_to_inline_code_drops_the_attachment(store: Store) -> None:
    rev1, got1 = put_action(store, zip_action("ns", "shrink", secrets.token_bytes(5_000)))
    ref = Action.from_doc(got1).exec.attached
    assert ref is not None
    rev2, got2 = put_action(store, zip_action("ns", "shrink", b"small", updated=2, rev=rev1))
    assert Action.from_doc(got2).exec.code == base64.b64encode(b"small").decode()
    with pytest.raises(NotFound):
        store.get_attachment("ns/shrink", rev2, ref.name)


def test_attached_code_conflicts_as_any_write_and_a_stale_write_changes_nothing(store: Store) -> None:
    data = secrets.token_bytes(5_000)
    rev1, _ = put_action(store, zip_action("ns", "c", data))
    with pytest.raises(Conflict):  # create twice
        put_action(store, zip_action("ns", "c", secrets.token_bytes(5_000)))
    rev2, _ = put_action(store, zip_action("ns", "c", data, updated=2, rev=rev1))
    with pytest.raises(Conflict):  # stale update
        put_action(store, zip_action("ns", "c", secrets.token_bytes(5_000), updated=3, rev=rev1))
    got = store.get_entity("ns/c")
    ref = Action.from_doc(got).exec.attached
    assert got["_rev"] == rev2 and ref is not None and got["updated"] == 2
    assert store.get_attachment("ns/c", rev2, ref.name) == data


def test_delete_removes_the_attached_code(store: Store) -> None:
    rev, got = put_action(store, zip_action("ns", "gone", secrets.token_bytes(5_000)))
    ref = Action.from_doc(got).exec.attached
    assert ref is not None
    store.delete_entity("ns/gone", rev)
    with pytest.raises(NotFound):
        store.get_entity("ns/gone")
    rev2, _ = put_action(store, zip_action("ns", "gone", b"small"))  # recreated with the same id
    with pytest.raises(NotFound):
        store.get_attachment("ns/gone", rev2, ref.name)


def test_attachment_of_a_missing_action_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_attachment("ns/nothing", "1-0123456789abcdef0123456789abcdef", "code-0123456789abcdef")
