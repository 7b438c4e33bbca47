"""``SqliteStore``: subjects, entities and activations in one SQLite file, for standalone mode.

The embedded twin of ``CouchStore``: each document is its JSON body plus a revision (``<n>-<hex>``, like
CouchDB's) in a table per CouchDB database, with the few fields the queries need copied into indexed columns
(put+get 0.04 ms; docs/dependencies.md). A write whose ``_rev`` is not the stored one changes no row,
which is a ``Conflict``, exactly as CouchDB answers 409. It passes the same contract suite
(``tests/contract/test_store.py``).

Threads and processes: one connection guarded by a lock serves every thread of a process (a statement takes
microseconds, so the lock is never the bottleneck); WAL journaling and a busy timeout let several processes
(gunicorn workers, an invoker) share the file. Every ``sqlite3`` failure becomes a ``StoreError``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core import attachments
from app.core.entities import Document
from app.core.errors import Conflict, NotFound, StoreError
from app.core.identities import Identity, Subject

BUSY_TIMEOUT_S = 10.0
"""How long a write waits for another process's write to finish before failing."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subjects (id TEXT PRIMARY KEY, rev TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS identities (
    uuid TEXT PRIMARY KEY, subject TEXT NOT NULL, namespace TEXT NOT NULL, key TEXT NOT NULL,
    blocked INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS identities_subject ON identities (subject);
CREATE INDEX IF NOT EXISTS identities_namespace ON identities (namespace, subject);
CREATE TABLE IF NOT EXISTS whisks (
    id TEXT PRIMARY KEY, rev TEXT NOT NULL, body TEXT NOT NULL,
    namespace TEXT, root TEXT, entity_type TEXT, updated INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS whisks_namespace ON whisks (namespace, entity_type, updated);
CREATE INDEX IF NOT EXISTS whisks_root ON whisks (root, entity_type, updated);
CREATE TABLE IF NOT EXISTS attachments (
    doc_id TEXT NOT NULL, name TEXT NOT NULL, content_type TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (doc_id, name));
CREATE TABLE IF NOT EXISTS activations (
    id TEXT PRIMARY KEY, body TEXT NOT NULL, namespace TEXT, name TEXT, start INTEGER);
CREATE INDEX IF NOT EXISTS activations_namespace ON activations (namespace, start);
CREATE INDEX IF NOT EXISTS activations_name ON activations (namespace, name, start);
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, secret TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS limits (namespace TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (
    id TEXT PRIMARY KEY, rev TEXT NOT NULL, body TEXT NOT NULL, next_fire INTEGER);
CREATE INDEX IF NOT EXISTS alarms_due ON alarms (next_fire);
"""


class SqliteStore:
    """The ``SubjectStore``, ``EntityStore``, ``ActivationStore`` and ``AlarmStore`` ports over one SQLite file.

    ``path`` may be ``":memory:"`` (one process only). Call ``setup()`` once (idempotent) and ``close()``
    when done. Every method raises ``NotFound``, ``Conflict`` or ``StoreError`` only.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                _make_private(Path(self.path))
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE), never implicit.
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                       check_same_thread=False)
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the SQLite store {self.path}: {e}") from e
        self._lock = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Any) -> SqliteStore:
        """The store of ``settings.store.path`` (a ``config.Settings``)."""
        return cls(settings.store.path)

    # -- lifecycle ------------------------------------------------------------------------------------------

    def setup(self) -> None:
        """Create the tables and indexes if missing; WAL so readers never wait for a writer."""
        with self._locked() as db:
            if self.path != ":memory:":
                db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a crash of the process
            db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- SubjectStore ---------------------------------------------------------------------------------------

    def put_subject(self, subject: Subject) -> Subject:
        doc = subject.to_doc()
        with self._transaction() as db:
            rev = _write(db, "subjects", doc, {})
            db.execute("DELETE FROM identities WHERE subject = ?", (subject.name,))
            db.executemany(
                "INSERT OR REPLACE INTO identities (uuid, subject, namespace, key, blocked) VALUES (?, ?, ?, ?, ?)",
                [(n.uuid, subject.name, n.namespace, n.key_hash, int(subject.blocked)) for n in subject.namespaces])
        return dataclasses.replace(subject, rev=rev)

    def get_subject(self, name: str) -> Subject:
        return Subject.from_doc(self._get("subjects", name))

    def delete_subject(self, subject: Subject) -> None:
        with self._transaction() as db:
            _delete(db, "subjects", subject.name, subject.rev)
            db.execute("DELETE FROM identities WHERE subject = ?", (subject.name,))

    def list_subjects(self) -> list[Subject]:
        rows = self._query("SELECT id, rev, body FROM subjects ORDER BY id", ())
        return [Subject.from_doc(_doc(row)) for row in rows]

    def identity_by_uuid(self, uuid: str) -> Identity:
        rows = self._query("SELECT subject, namespace, key, blocked FROM identities WHERE uuid = ?", (uuid,))
        if not rows:
            raise NotFound()
        subject, namespace, key, blocked = rows[0]
        return Identity(subject=subject, namespace=namespace, uuid=uuid, key_hash=key, blocked=bool(blocked))

    def identity_by_namespace(self, namespace: str) -> Identity:
        rows = self._query("SELECT subject, uuid, key FROM identities WHERE namespace = ? AND blocked = 0 "
                           "ORDER BY subject LIMIT 1", (namespace,))
        if not rows:
            raise NotFound()
        subject, uuid, key = rows[0]
        return Identity(subject=subject, namespace=namespace, uuid=uuid, key_hash=key)

    def get_limits(self, namespace: str) -> dict[str, int]:
        rows = self._query("SELECT body FROM limits WHERE namespace = ?", (namespace,))
        found: dict[str, int] = json.loads(rows[0][0]) if rows else {}
        return found

    def put_limits(self, namespace: str, limits: dict[str, int]) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM limits WHERE namespace = ?", (namespace,))
            if limits:
                db.execute("INSERT INTO limits (namespace, body) VALUES (?, ?)", (namespace, _dumps(limits)))

    def shared_secret(self, name: str, candidate: str) -> str:
        """The first process to ask stores its candidate; everyone after reads that one."""
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO secrets (name, secret) VALUES (?, ?)", (name, candidate))
            return str(db.execute("SELECT secret FROM secrets WHERE name = ?", (name,)).fetchone()[0])

    # -- EntityStore ----------------------------------------------------------------------------------------

    def get_entity(self, doc_id: str) -> Document:
        return self._get("whisks", doc_id)

    def put_entity(self, doc: Document) -> str:
        namespace = doc.get("namespace") if isinstance(doc.get("namespace"), str) else None
        updated = doc.get("updated")
        columns = {
            "namespace": namespace,
            "root": namespace.split("/", 1)[0] if namespace else None,
            "entity_type": doc.get("entityType") if isinstance(doc.get("entityType"), str) else None,
            "updated": updated if isinstance(updated, int) and not isinstance(updated, bool) else 0,
        }
        try:
            new, keep = attachments.uploads(doc)
        except ValueError as e:
            raise StoreError(f"cannot store {doc.get('_id')!r}: {e}") from e
        body = {k: v for k, v in doc.items() if k != "_attachments"}
        with self._transaction() as db:
            rev = _write(db, "whisks", body, columns)
            _keep_attachments(db, _id_of(doc), keep)
            db.executemany("INSERT OR REPLACE INTO attachments (doc_id, name, content_type, data) VALUES (?, ?, ?, ?)",
                           [(doc["_id"], name, content_type, data) for name, (content_type, data) in new.items()])
            return rev

    def get_attachment(self, doc_id: str, rev: str, name: str) -> bytes:
        """By name alone: each upload has a new name, and no earlier revision is kept here, so an attachment a later
        revision dropped is gone at once (as CouchDB's is once compacted)."""
        rows = self._query("SELECT data FROM attachments WHERE doc_id = ? AND name = ?", (doc_id, name))
        if not rows:
            raise NotFound()
        return bytes(rows[0][0])

    def delete_entity(self, doc_id: str, rev: str) -> None:
        with self._transaction() as db:
            _delete(db, "whisks", doc_id, rev)
            db.execute("DELETE FROM attachments WHERE doc_id = ?", (doc_id,))

    def list_entities(self, namespace: str, entity_type: str, skip: int, limit: int) -> list[Document]:
        if limit <= 0:
            return []
        rows = self._query(
            "SELECT id, rev, body FROM whisks WHERE (namespace = ?1 OR root = ?1) AND entity_type = ?2 "
            "ORDER BY updated DESC, id DESC LIMIT ?3 OFFSET ?4", (namespace, entity_type, limit, skip))
        return [_doc(row) for row in rows]

    def count_entities(self, namespace: str, entity_type: str) -> int:
        rows = self._query("SELECT COUNT(*) FROM whisks WHERE (namespace = ?1 OR root = ?1) AND entity_type = ?2",
                           (namespace, entity_type))
        return int(rows[0][0])

    # -- ActivationStore ------------------------------------------------------------------------------------

    def put_activation(self, doc: Document) -> None:
        body = {k: v for k, v in doc.items() if k not in ("_id", "_rev")}
        namespace = doc.get("namespace")
        with self._transaction() as db:
            # OR IGNORE: stored already, a redelivery of the same activation.
            db.execute("INSERT OR IGNORE INTO activations (id, body, namespace, name, start) VALUES (?, ?, ?, ?, ?)",
                       (_id_of(doc), _dumps(body), namespace, _activation_name(doc), doc.get("start")))

    def put_activations(self, docs: list[Document]) -> list[str | None]:
        """The records that can be stored in one transaction; per doc None, or why it was refused (not strict
        JSON, no id): one bad record never fails the others. Raises ``StoreError`` if the transaction fails."""
        rows: list[tuple[Any, ...]] = []
        outcomes: list[str | None] = []
        for doc in docs:
            try:
                rows.append(_activation_row(doc))
                outcomes.append(None)
            except (StoreError, ValueError, TypeError, RecursionError) as e:
                outcomes.append(f"refused: {e}")
        if rows:
            with self._transaction() as db:
                db.executemany("INSERT OR IGNORE INTO activations (id, body, namespace, name, start) "
                               "VALUES (?, ?, ?, ?, ?)", rows)
        return outcomes

    def get_activation(self, namespace: str, activation_id: str) -> Document:
        rows = self._query("SELECT id, body FROM activations WHERE id = ?", (f"{namespace}/{activation_id}",))
        if not rows:
            raise NotFound()
        doc_id, body = rows[0]
        return {"_id": doc_id, **json.loads(body)}

    def list_activations(self, namespace: str, name: str | None, since: int | None,
                         upto: int | None, skip: int, limit: int) -> list[Document]:
        if limit <= 0:
            return []
        where, params = _activation_filter(namespace, name, since, upto)
        rows = self._query(f"SELECT id, body FROM activations WHERE {where} ORDER BY start DESC, id DESC "
                           "LIMIT ? OFFSET ?", (*params, limit, skip))
        return [{"_id": doc_id, **json.loads(body)} for doc_id, body in rows]

    def count_activations(self, namespace: str, name: str | None, since: int | None, upto: int | None) -> int:
        where, params = _activation_filter(namespace, name, since, upto)
        return int(self._query(f"SELECT COUNT(*) FROM activations WHERE {where}", params)[0][0])

    # -- ExpiringActivations --------------------------------------------------------------------------------

    def activation_namespaces(self) -> list[str]:
        return [row[0] for row in self._query("SELECT DISTINCT namespace FROM activations ORDER BY namespace", ())]

    def delete_activations_before(self, namespace: str, before_ms: int, limit: int) -> int:
        with self._transaction() as db:  # the (namespace, start) index finds them, oldest first
            cursor = db.execute("DELETE FROM activations WHERE id IN (SELECT id FROM activations WHERE namespace = ? "
                                "AND start < ? ORDER BY start LIMIT ?)", (namespace, before_ms, limit))
            return cursor.rowcount

    # -- AlarmStore -----------------------------------------------------------------------------------------

    def get_alarm(self, trigger_id: str) -> Document:
        return self._get("alarms", trigger_id)

    def put_alarm(self, doc: Document) -> str:
        with self._transaction() as db:
            return _write(db, "alarms", doc, {"next_fire": _due_time(doc)})

    def delete_alarm(self, trigger_id: str, rev: str) -> None:
        with self._transaction() as db:
            _delete(db, "alarms", trigger_id, rev)

    def due_alarms(self, now_ms: int, limit: int) -> list[Document]:
        if limit <= 0:
            return []
        rows = self._query("SELECT id, rev, body FROM alarms WHERE next_fire IS NOT NULL AND next_fire <= ? "
                           "ORDER BY next_fire, id LIMIT ?", (now_ms, limit))
        return [_doc(row) for row in rows]

    def next_alarm_time(self) -> int | None:
        rows = self._query("SELECT MIN(next_fire) FROM alarms WHERE next_fire IS NOT NULL", ())
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    # -- helpers --------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as e:
                raise StoreError(f"SQLite store {self.path}: {e}") from e

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: IMMEDIATE takes the write lock first, so read-then-write cannot race
        another process; committed on success, rolled back on any error."""
        with self._locked() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        with self._locked() as db:
            return db.execute(sql, params).fetchall()

    def _get(self, table: str, doc_id: str) -> Document:
        rows = self._query(f"SELECT id, rev, body FROM {table} WHERE id = ?", (doc_id,))
        if not rows:
            raise NotFound()
        return _doc(rows[0])


def _make_private(path: Path) -> None:
    """The file (and its WAL and shared-memory files, which SQLite creates with the file's mode) readable by
    this user only: it holds every tenant's code, parameters and results, and the admin's session secret. A
    folder made for it is private too."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError, PermissionError):  # not ours to change
            file.chmod(0o600)


def _dumps(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _activation_row(doc: Document) -> tuple[Any, ...]:
    """An activation's row, checked to be what every reader can read back: strict JSON (no NaN or Infinity,
    UTF-8 without lone surrogates) and a start SQLite can hold. Raises ``ValueError`` (or ``StoreError``)."""
    body = json.dumps({k: v for k, v in doc.items() if k not in ("_id", "_rev")}, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False)
    body.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate, as sqlite3 would on the whole batch
    start = doc.get("start")
    if isinstance(start, int) and not -(2**63) <= start < 2**63:
        raise ValueError(f"start {start} is out of range")
    return _id_of(doc), body, doc.get("namespace"), _activation_name(doc), start


def _doc(row: tuple[str, str, str]) -> Document:
    doc_id, rev, body = row
    return {"_id": doc_id, "_rev": rev, **json.loads(body)}


def _id_of(doc: Document) -> str:
    doc_id = doc.get("_id")
    if not isinstance(doc_id, str) or not doc_id:
        raise StoreError("a document needs a non-empty string _id to be stored")
    return doc_id


def _next_rev(rev: str | None) -> str:
    generation = int(rev.split("-", 1)[0]) if rev else 0
    return f"{generation + 1}-{secrets.token_hex(16)}"


def _write(db: sqlite3.Connection, table: str, doc: Document, columns: dict[str, Any]) -> str:
    """Create (no ``_rev``) or update (matching ``_rev``) one document; returns its new rev."""
    doc_id = _id_of(doc)
    rev = doc.get("_rev")
    body = _dumps({k: v for k, v in doc.items() if k not in ("_id", "_rev")})
    new_rev = _next_rev(rev if isinstance(rev, str) else None)
    names = ["rev", "body", *columns]
    values = [new_rev, body, *columns.values()]
    if rev:
        assignments = ", ".join(f"{name} = ?" for name in names)
        changed = db.execute(f"UPDATE {table} SET {assignments} WHERE id = ? AND rev = ?", (*values, doc_id, rev))
        if changed.rowcount == 0:
            raise Conflict()
        return new_rev
    try:
        db.execute(f"INSERT INTO {table} (id, {', '.join(names)}) VALUES (?, {', '.join('?' * len(names))})",
                   (doc_id, *values))
    except sqlite3.IntegrityError:  # one exists already: creating over it is a conflict, as in CouchDB
        raise Conflict() from None
    return new_rev


def _keep_attachments(db: sqlite3.Connection, doc_id: str, keep: list[str]) -> None:
    """Drop the document's attachments but ``keep``; ``Conflict`` if one of those is missing (CouchDB's 412 for a
    stub of an attachment the revision does not have)."""
    held = {row[0] for row in db.execute("SELECT name FROM attachments WHERE doc_id = ?", (doc_id,))}
    if not set(keep) <= held:
        raise Conflict()
    db.executemany("DELETE FROM attachments WHERE doc_id = ? AND name = ?",
                   [(doc_id, name) for name in held - set(keep)])


def _delete(db: sqlite3.Connection, table: str, doc_id: str, rev: str | None) -> None:
    if rev and db.execute(f"DELETE FROM {table} WHERE id = ? AND rev = ?", (doc_id, rev)).rowcount == 1:
        return
    if db.execute(f"SELECT 1 FROM {table} WHERE id = ?", (doc_id,)).fetchone() is None:
        raise NotFound()
    raise Conflict()  # a stale rev, or none at all (CouchDB 3 refuses a DELETE without rev)


def _due_time(doc: Document) -> int | None:
    """``next_fire`` of an active alarm (what the scheduler polls for, as CouchStore's ``due`` view), else None."""
    next_fire = doc.get("next_fire")
    if doc.get("status") != "active" or not isinstance(next_fire, int) or isinstance(next_fire, bool):
        return None
    return next_fire


def _activation_name(doc: Document) -> str | None:
    """``pkg/action`` when the ``path`` annotation is ``ns/pkg/action``, else the name (as CouchStore's view)."""
    name = doc.get("name")
    for annotation in doc.get("annotations") or ():
        if isinstance(annotation, dict) and annotation.get("key") == "path":
            value = annotation.get("value")
            if isinstance(value, str):
                parts = value.split("/")
                if len(parts) == 3:
                    return f"{parts[1]}/{name}"
            break
    return name if isinstance(name, str) else None


def _activation_filter(namespace: str, name: str | None, since: int | None,
                       upto: int | None) -> tuple[str, tuple[Any, ...]]:
    """A WHERE clause (and its parameters) for activations in a namespace, by name and start range."""
    clauses, params = ["namespace = ?"], [namespace]
    for clause, value in (("name = ?", name), ("start >= ?", since), ("start <= ?", upto)):
        if value is not None:
            clauses.append(clause)
            params.append(value)  # type: ignore[arg-type]
    return " AND ".join(clauses), tuple(params)
