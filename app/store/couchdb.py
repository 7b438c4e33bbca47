"""``CouchStore``: subjects, entities, activations and alarm schedules in CouchDB 3 or any CouchDB-API server.

Four databases, ``<prefix>subjects``, ``<prefix>whisks`` and ``<prefix>activations`` (OpenWhisk's own three)
and ``<prefix>alarms``, each with one design document ``_design/squall`` that
``setup()`` installs.
The map functions are plain JavaScript that CouchDB 3 and pouchdb-server run alike; counts use the built-in
``_count`` reduce. All HTTP goes through one ``CouchClient`` (``app.store.couch_client``), which turns
failures into ``NotFound``, ``Conflict`` and ``StoreError``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any, Final

import httpx

from app.core import attachments
from app.core.entities import Document
from app.core.errors import Conflict, NotFound, StoreError, StoreUnavailable
from app.core.identities import Identity, Subject
from config.settings import CouchDBSettings

from .couch_client import CouchClient, Database

DESIGN = "squall"
"""Name of the design document in each database (``_design/squall``)."""

_HIGH: Final[dict[str, Any]] = {}
"""Sorts after every number, string and array in CouchDB's collation: the open upper end of a key range."""

_SUBJECTS_DESIGN: Document = {
    "language": "javascript",
    "views": {
        # uuid -> the namespace key it belongs to (the API-key lookup of every authenticated request).
        "identities": {
            "map": """function (doc) {
  if (typeof doc.subject !== 'string' || !doc.namespaces) return;
  for (var i = 0; i < doc.namespaces.length; i++) {
    var ns = doc.namespaces[i];
    if (ns && ns.uuid) {
      emit(ns.uuid, {subject: doc.subject, namespace: ns.name, key: ns.key, blocked: doc.blocked === true});
    }
  }
}""",
        },
        # namespace -> its key, for subjects that are not blocked (the owner a web action runs as); the subject
        # name in the key orders several holders of one namespace.
        "namespaces": {
            "map": """function (doc) {
  if (typeof doc.subject !== 'string' || !doc.namespaces || doc.blocked === true) return;
  for (var i = 0; i < doc.namespaces.length; i++) {
    var ns = doc.namespaces[i];
    if (ns && typeof ns.name === 'string' && ns.uuid) {
      emit([ns.name, doc.subject], {uuid: ns.uuid, key: ns.key});
    }
  }
}""",
        },
    },
}

_WHISKS_DESIGN: Document = {
    "language": "javascript",
    "views": {
        # [namespace or ns/pkg, entityType, updated]: an entity in ns/pkg is listed under ns and under ns/pkg.
        "entities": {
            "map": """function (doc) {
  if (typeof doc.entityType !== 'string' || typeof doc.namespace !== 'string') return;
  var updated = typeof doc.updated === 'number' ? doc.updated : 0;
  emit([doc.namespace, doc.entityType, updated], null);
  var slash = doc.namespace.indexOf('/');
  if (slash > 0) emit([doc.namespace.substring(0, slash), doc.entityType, updated], null);
}""",
            "reduce": "_count",
        },
    },
}

_ACTIVATIONS_DESIGN: Document = {
    "language": "javascript",
    "views": {
        # [namespace, start]
        "activations": {
            "map": """function (doc) {
  if (doc.activationId === undefined || typeof doc.namespace !== 'string') return;
  emit([doc.namespace, doc.start], null);
}""",
            "reduce": "_count",
        },
        # [namespace, name, start]; name is pkg/action when the `path` annotation is ns/pkg/action, as in
        # OpenWhisk's activation filter view, so the activation list's `name=pkg/action` filter finds it.
        "activations-by-name": {
            "map": """function (doc) {
  if (doc.activationId === undefined || typeof doc.namespace !== 'string') return;
  var name = doc.name;
  var annotations = doc.annotations || [];
  for (var i = 0; i < annotations.length; i++) {
    var a = annotations[i];
    if (a && a.key === 'path') {
      if (typeof a.value === 'string') {
        var parts = a.value.split('/');
        if (parts.length === 3) name = parts[1] + '/' + doc.name;
      }
      break;
    }
  }
  emit([doc.namespace, name, doc.start], null);
}""",
            "reduce": "_count",
        },
    },
}


RETENTION_DESIGN = "retention"
"""A design document of its own for the retention sweep's view: adding it to an existing deployment builds this
index alone, not again the ``activations`` ones that listing records needs."""

_RETENTION_DESIGN: Document = {
    "language": "javascript",
    "views": {
        # [namespace, start] -> rev: what a bulk delete needs, without reading the records themselves.
        "expiry": {
            "map": """function (doc) {
  if (doc.activationId === undefined || typeof doc.namespace !== 'string') return;
  emit([doc.namespace, doc.start], doc._rev);
}""",
        },
    },
}


_ALARMS_DESIGN: Document = {
    "language": "javascript",
    "views": {
        # next_fire of active alarms: what the scheduler polls for.
        "due": {
            "map": """function (doc) {
  if (doc.status === 'active' && typeof doc.next_fire === 'number') emit(doc.next_fire, null);
}""",
        },
    },
}


class CouchStore:
    """The ``SubjectStore``, ``EntityStore`` and ``ActivationStore`` ports over CouchDB.

    Call ``setup()`` once per deployment (it is idempotent) and ``close()`` when done. Every method raises
    ``NotFound``, ``Conflict`` or ``StoreError`` only.
    """

    def __init__(self, settings: CouchDBSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self._client = CouchClient(settings.url, settings.timeout_s, transport=transport)
        self._subjects = self._client.database(f"{settings.prefix}subjects")
        self._whisks = self._client.database(f"{settings.prefix}whisks")
        self._activations = self._client.database(f"{settings.prefix}activations")
        self._alarms = self._client.database(f"{settings.prefix}alarms")
        self._designs: tuple[tuple[Database, str, Document], ...] = (
            (self._subjects, DESIGN, _SUBJECTS_DESIGN),
            (self._whisks, DESIGN, _WHISKS_DESIGN),
            (self._activations, DESIGN, _ACTIVATIONS_DESIGN),
            (self._activations, RETENTION_DESIGN, _RETENTION_DESIGN),
            (self._alarms, DESIGN, _ALARMS_DESIGN),
        )

    @classmethod
    def from_settings(cls, settings: Any) -> CouchStore:
        """The store of ``settings.couchdb`` (a ``config.Settings``)."""
        return cls(settings.couchdb)

    @property
    def whisks_db(self) -> str:
        """Name of the entities database."""
        return self._whisks.name

    # -- lifecycle ------------------------------------------------------------------------------------------

    def setup(self) -> None:
        """Create the databases if missing and install or update their design documents."""
        for db, name, design in self._designs:
            db.create()
            _install_design(db, design, name)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> CouchStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- SubjectStore ---------------------------------------------------------------------------------------

    def put_subject(self, subject: Subject) -> Subject:
        rev = _put(self._subjects, subject.to_doc())
        return dataclasses.replace(subject, rev=rev)

    def get_subject(self, name: str) -> Subject:
        doc = self._subjects.get(name)
        if "subject" not in doc:  # another kind of document in this database, e.g. "<ns>/limits"
            raise NotFound()
        return Subject.from_doc(doc)

    def delete_subject(self, subject: Subject) -> None:
        _delete(self._subjects, subject.name, subject.rev)

    def list_subjects(self) -> list[Subject]:
        rows = _query(self._subjects.all_docs, include_docs=True)
        return [Subject.from_doc(row["doc"]) for row in rows
                if not row["id"].startswith("_design/") and "subject" in (row.get("doc") or {})]

    def identity_by_uuid(self, uuid: str) -> Identity:
        rows = _query(_View(self._subjects, "identities"), key=uuid, limit=1)
        if not rows:
            raise NotFound()
        value = rows[0]["value"]
        return Identity(subject=value["subject"], namespace=value["namespace"], uuid=uuid,
                        key_hash=value["key"], blocked=bool(value["blocked"]))

    def identity_by_namespace(self, namespace: str) -> Identity:
        rows = _query(_View(self._subjects, "namespaces"), startkey=[namespace], endkey=[namespace, _HIGH], limit=1)
        if not rows:
            raise NotFound()
        value = rows[0]["value"]
        return Identity(subject=rows[0]["key"][1], namespace=namespace, uuid=value["uuid"], key_hash=value["key"])

    def get_limits(self, namespace: str) -> dict[str, int]:
        try:  # OpenWhisk keeps them in the subjects database too, as "<namespace>/limits"
            doc = self._subjects.get(f"{namespace}/limits")
        except NotFound:
            return {}
        return {k: v for k, v in doc.items() if not k.startswith("_")}

    def put_limits(self, namespace: str, limits: dict[str, int]) -> None:
        doc_id = f"{namespace}/limits"
        for _ in range(3):  # a concurrent writer: read its rev and write again
            try:
                current = self._subjects.get(doc_id)
            except NotFound:
                current = None
            try:
                if not limits:
                    if current is not None:
                        self._subjects.delete(doc_id, current["_rev"])
                    return
                self._subjects.put({"_id": doc_id, **limits, **({"_rev": current["_rev"]} if current else {})})
                return
            except (Conflict, NotFound):
                continue
        raise StoreError(f"could not store the limits of {namespace}: they kept changing")

    def shared_secret(self, name: str, candidate: str) -> str:
        doc_id = f"squall:secret:{name}"  # no "subject" field, and ":" is in no namespace: never a subject
        try:
            self._subjects.put({"_id": doc_id, "secret": candidate})
            return candidate
        except Conflict:  # another process stored one first: use theirs
            return str(self._subjects.get(doc_id)["secret"])

    # -- EntityStore ----------------------------------------------------------------------------------------

    def get_entity(self, doc_id: str) -> Document:
        return self._whisks.get(doc_id)

    def put_entity(self, doc: Document) -> str:
        """As the port says. New attachments go up as raw bytes, one PUT each (never base64 inside the JSON
        document, which ``max_document_size`` bounds), in an order that leaves every revision whole: an update
        attaches the new code to the old revision (whose body still names the old code) and then writes the new
        body, which keeps only the attachments it names; a create writes the body first (so it conflicts as any
        create does) and then attaches the code."""
        if "_attachments" not in doc:
            return _put(self._whisks, doc)  # and any attachment the document had is dropped
        try:
            new, keep = attachments.uploads(doc)
        except ValueError as e:
            raise StoreError(f"cannot store {doc.get('_id')!r}: {e}") from e
        body = {k: v for k, v in doc.items() if k != "_attachments"}
        doc_id, rev = str(body.get("_id")), body.get("_rev")
        if not rev:
            rev = _put(self._whisks, body)
            for name, (content_type, data) in new.items():
                rev = self._attach(doc_id, name, rev, data, content_type)
            return rev
        for name, (content_type, data) in new.items():
            rev = self._attach(doc_id, name, rev, data, content_type)
        return _put(self._whisks, {**body, "_rev": rev, "_attachments": self._stubs(doc_id, rev, [*keep, *new])})

    def _stubs(self, doc_id: str, rev: str, names: list[str]) -> Document:
        """The stubs that keep ``names`` of revision ``rev``: as the server describes them, since pouchdb-server
        finds a stub by its digest (CouchDB by its name alone)."""
        try:
            held = self._whisks.get(doc_id, rev=rev).get("_attachments") or {}
        except NotFound:  # deleted meanwhile
            raise Conflict() from None
        return {name: {**held.get(name, {}), "stub": True} for name in names}

    def _attach(self, doc_id: str, name: str, rev: str, data: bytes, content_type: str) -> str:
        try:
            return self._whisks.put_attachment(doc_id, name, rev, data, content_type)
        except NotFound:  # deleted meanwhile (pouchdb-server answers 404 where CouchDB answers 409)
            raise Conflict() from None

    def get_attachment(self, doc_id: str, rev: str, name: str) -> bytes:
        """CouchDB keeps an earlier revision's attachments until the database is compacted."""
        return self._whisks.get_attachment(doc_id, name, rev)

    def delete_entity(self, doc_id: str, rev: str) -> None:
        _delete(self._whisks, doc_id, rev)

    def list_entities(self, namespace: str, entity_type: str, skip: int, limit: int) -> list[Document]:
        if limit <= 0:
            return []
        rows = _query(_View(self._whisks, "entities"), reduce=False, include_docs=True, descending=True,
                      startkey=[namespace, entity_type, _HIGH], endkey=[namespace, entity_type],
                      skip=skip, limit=limit)
        return [row["doc"] for row in rows if row.get("doc")]

    def count_entities(self, namespace: str, entity_type: str) -> int:
        return _count(_View(self._whisks, "entities"),
                      startkey=[namespace, entity_type], endkey=[namespace, entity_type, _HIGH])

    # -- ActivationStore ------------------------------------------------------------------------------------

    def put_activation(self, doc: Document) -> None:
        with contextlib.suppress(Conflict):  # stored already: a redelivery of the same activation
            _put(self._activations, doc)

    def put_activations(self, docs: list[Document]) -> list[str | None]:
        """Store several records in one ``_bulk_docs``; per doc None when stored (now, or before: a conflict
        is a redelivery's record), else the server's reason. Raises ``StoreError`` if the store cannot be asked
        (``StoreUnavailable``: down; or its database is missing).

        CouchDB refuses a whole request for one bad document in it (``400 invalid_json`` for a NaN, ``413`` for
        one too large): then the batch is halved until each refused document is alone, and the others are stored
        all the same, so one record cannot hold up the rest (a few more requests, only when one is refused)."""
        if not docs:
            return []
        try:
            results = self._activations.bulk(docs)
        except StoreUnavailable:
            raise
        except NotFound as e:
            raise StoreError(f"database {self._activations.name} is missing: run the store's setup() first") from e
        except (StoreError, ValueError, TypeError) as e:  # refused, or a value JSON cannot hold
            if len(docs) == 1:
                return [str(e) or type(e).__name__]
            half = len(docs) // 2
            return self.put_activations(docs[:half]) + self.put_activations(docs[half:])
        if len(results) != len(docs):
            raise StoreError(f"_bulk_docs answered {len(results)} results for {len(docs)} documents")
        return [None if "error" not in r or r["error"] == "conflict" else f"{r['error']}: {r.get('reason', '')}"
                for r in results]

    def get_activation(self, namespace: str, activation_id: str) -> Document:
        return self._activations.get(f"{namespace}/{activation_id}")

    def list_activations(self, namespace: str, name: str | None, since: int | None,
                         upto: int | None, skip: int, limit: int) -> list[Document]:
        if limit <= 0 or _empty_range(since, upto):
            return []
        view, low, high = self._activation_range(namespace, name, since, upto)
        rows = _query(view, reduce=False, include_docs=True, descending=True, startkey=high, endkey=low,
                      skip=skip, limit=limit)
        return [row["doc"] for row in rows if row.get("doc")]

    def count_activations(self, namespace: str, name: str | None, since: int | None, upto: int | None) -> int:
        if _empty_range(since, upto):
            return 0
        view, low, high = self._activation_range(namespace, name, since, upto)
        return _count(view, startkey=low, endkey=high)

    # -- ExpiringActivations --------------------------------------------------------------------------------

    def activation_namespaces(self) -> list[str]:
        rows = _query(_View(self._activations, "activations"), reduce=True, group_level=1)
        return [row["key"][0] for row in rows if isinstance(row.get("key"), list) and row["key"]]

    def delete_activations_before(self, namespace: str, before_ms: int, limit: int) -> int:
        # The key range ends just below [namespace, before_ms]: records that started before it, oldest first.
        rows = _query(_View(self._activations, "expiry", RETENTION_DESIGN), startkey=[namespace],
                      endkey=[namespace, before_ms], inclusive_end=False, limit=limit)
        if not rows:
            return 0
        results = self._activations.bulk({"_id": row["id"], "_rev": row["value"], "_deleted": True} for row in rows)
        return sum(1 for r in results if "error" not in r)  # a conflict: deleted (or changed) meanwhile

    # -- AlarmStore -----------------------------------------------------------------------------------------

    def get_alarm(self, trigger_id: str) -> Document:
        return self._alarms.get(trigger_id)

    def put_alarm(self, doc: Document) -> str:
        return _put(self._alarms, doc)

    def delete_alarm(self, trigger_id: str, rev: str) -> None:
        _delete(self._alarms, trigger_id, rev)

    def due_alarms(self, now_ms: int, limit: int) -> list[Document]:
        rows = _query(_View(self._alarms, "due"), include_docs=True, startkey=0, endkey=now_ms, limit=limit)
        return [row["doc"] for row in rows if row.get("doc")]

    def next_alarm_time(self) -> int | None:
        rows = _query(_View(self._alarms, "due"), limit=1)
        return int(rows[0]["key"]) if rows else None

    # -- helpers --------------------------------------------------------------------------------------------

    def _activation_range(self, namespace: str, name: str | None, since: int | None,
                          upto: int | None) -> tuple[_View, list[Any], list[Any]]:
        """The view and the inclusive key range [low, high] for these filters."""
        prefix: list[Any] = [namespace] if name is None else [namespace, name]
        view = _View(self._activations, "activations" if name is None else "activations-by-name")
        low = prefix if since is None else [*prefix, since]
        high = [*prefix, _HIGH if upto is None else upto]
        return view, low, high


class _View:
    """A callable for one view of a design document, so queries read as ``_query(view, ...)``."""

    def __init__(self, db: Database, name: str, design: str = DESIGN) -> None:
        self.db = db
        self.name = name
        self.design = design

    def __call__(self, **params: Any) -> Document:
        try:
            return self.db.view(self.design, self.name, **params)
        except NotFound as e:
            raise StoreError(f"view {self.db.name}/_design/{self.design}/{self.name} is missing: "
                             "run the store's setup() first") from e


def _query(call: Callable[..., Document], **params: Any) -> list[Document]:
    """Rows of a view or ``_all_docs`` query."""
    body = call(**params)
    rows: list[Document] = body.get("rows", [])
    return rows


def _count(view: _View, **params: Any) -> int:
    """The ``_count`` reduce over a key range (no rows when the range is empty)."""
    rows = _query(view, reduce=True, **params)
    return int(rows[0]["value"]) if rows else 0


def _empty_range(since: int | None, upto: int | None) -> bool:
    # CouchDB rejects a reversed key range with 400 rather than returning nothing.
    return since is not None and upto is not None and since > upto


def _put(db: Database, doc: Document) -> str:
    try:
        return db.put(doc)
    except NotFound as e:  # the database itself is missing
        raise StoreError(f"database {db.name} is missing: run the store's setup() first") from e


def _delete(db: Database, doc_id: str, rev: str | None) -> None:
    if not rev:
        # CouchDB 3 refuses a DELETE without rev (409); pouchdb-server would delete whatever is there.
        db.get(doc_id)  # NotFound when there is nothing to delete
        raise Conflict()
    db.delete(doc_id, rev)


def _install_design(db: Database, design: Document, name: str = DESIGN) -> None:
    """PUT ``_design/<name>`` unless the stored one is the same; another process racing us is fine."""
    doc_id = f"_design/{name}"
    for _ in range(3):
        try:
            stored: Document | None = db.get(doc_id)
        except NotFound:
            stored = None
        if stored is not None and {k: v for k, v in stored.items() if not k.startswith("_")} == design:
            return
        doc = {**design, "_id": doc_id}
        if stored is not None:
            doc["_rev"] = stored["_rev"]
        try:
            db.put(doc)
            return
        except Conflict:
            continue  # someone else wrote it meanwhile: compare again
    raise StoreError(f"could not install {db.name}/{doc_id}: it keeps changing under us")
