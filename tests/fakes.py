"""In-memory stand-ins for OUR ports (EntityStore, ActivationStore, SubjectStore), for tests that drive the invoker
or the use cases directly. The real stores are tested in tests/contract; nothing here imitates CouchDB's wire
behaviour."""

from __future__ import annotations

import secrets
from typing import Any

from app.core.entities import Action
from app.core.errors import Conflict, NotFound, StoreError, StoreUnavailable
from app.core.identities import Identity, Subject


class DictEntityStore:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.reads = 0
        self.broken = False  # True: every read fails as a store that is down would
        self.attachments: dict[tuple[str, str], bytes] = {}  # (doc id, name) -> bytes
        self.attachment_reads = 0

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

    def get_attachment(self, doc_id: str, rev: str, name: str) -> bytes:
        self.attachment_reads += 1
        if self.broken:
            raise StoreError()
        try:
            return self.attachments[(doc_id, name)]
        except KeyError:
            raise NotFound() from None


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


class DictAlarmStore:
    """The ``AlarmStore`` port over a dict, with revisions so stale writes conflict as in the real stores."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    def get_alarm(self, trigger_id: str) -> dict[str, Any]:
        if trigger_id not in self.docs:
            raise NotFound()
        return dict(self.docs[trigger_id])

    def put_alarm(self, doc: dict[str, Any]) -> str:
        current = self.docs.get(doc["_id"])
        if (current or {}).get("_rev") != doc.get("_rev"):
            raise Conflict()
        rev = f"{int(str(doc.get('_rev', '0-')).split('-')[0]) + 1}-{secrets.token_hex(4)}"
        self.docs[doc["_id"]] = {**doc, "_rev": rev}
        return rev

    def delete_alarm(self, trigger_id: str, rev: str) -> None:
        if trigger_id not in self.docs:
            raise NotFound()
        if self.docs[trigger_id]["_rev"] != rev:
            raise Conflict()
        del self.docs[trigger_id]

    def due_alarms(self, now_ms: int, limit: int) -> list[dict[str, Any]]:
        due = [d for d in self.docs.values()
               if d.get("status") == "active" and d.get("next_fire") is not None and d["next_fire"] <= now_ms]
        return sorted(due, key=lambda d: d["next_fire"])[:limit]

    def next_alarm_time(self) -> int | None:
        times = [d["next_fire"] for d in self.docs.values() if d.get("status") == "active" and d.get("next_fire")]
        return min(times) if times else None


class DictLimitsStore:
    """The limits part of ``SubjectStore``: what ``LimitsService`` uses."""

    def __init__(self) -> None:
        self.limits: dict[str, dict[str, int]] = {}

    def get_limits(self, namespace: str) -> dict[str, int]:
        return dict(self.limits.get(namespace, {}))

    def put_limits(self, namespace: str, limits: dict[str, int]) -> None:
        self.limits[namespace] = dict(limits)


class DictSubjects:
    """Our own SubjectStore port in a dict; ``lookups`` lists the uuids looked up by key, ``down`` makes those
    look-ups fail as they do when the store cannot be reached."""

    def __init__(self) -> None:
        self.docs: dict[str, Subject] = {}
        self.lookups: list[str] = []
        self.down = False

    def put_subject(self, subject: Subject) -> Subject:
        current = self.docs.get(subject.name)
        if (current.rev if current else None) != subject.rev:
            raise Conflict()
        stored = Subject(subject.name, subject.namespaces, subject.blocked, str(int(subject.rev or "0") + 1))
        self.docs[subject.name] = stored
        return stored

    def get_subject(self, name: str) -> Subject:
        if name not in self.docs:
            raise NotFound()
        return self.docs[name]

    def delete_subject(self, subject: Subject) -> None:
        del self.docs[subject.name]

    def list_subjects(self) -> list[Subject]:
        return list(self.docs.values())

    def get_limits(self, namespace: str) -> dict[str, int]:
        return {}

    def put_limits(self, namespace: str, limits: dict[str, int]) -> None:
        return None

    def shared_secret(self, name: str, candidate: str) -> str:
        return candidate

    def identity_by_uuid(self, uuid: str) -> Identity:
        self.lookups.append(uuid)
        if self.down:
            raise StoreUnavailable("connection refused")
        for s in self.docs.values():
            for n in s.namespaces:
                if n.uuid == uuid:
                    return Identity(s.name, n.namespace, n.uuid, n.key_hash, s.blocked)
        raise NotFound()


class Clock:
    """A clock the test moves by hand (``now``)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now
