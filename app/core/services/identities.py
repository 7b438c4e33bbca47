"""Subjects and API keys: create, list, block, delete, and checking a presented ``uuid:key``."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from app.core.errors import Conflict, NotFound, Unauthorized
from app.core.identities import (
    WELL_KNOWN,
    Identity,
    NamespaceKey,
    Subject,
    hash_key,
    key_matches,
    new_credentials,
    split_credentials,
)
from app.core.lookups import LookupCache
from app.core.names import check_name
from app.core.ports import SubjectStore

UNKNOWN_KEPT = 10_000
"""How many unknown uuids a controller remembers at most: enough for a flood of a few, small enough (a couple of
megabytes) that a flood of random ones costs no memory worth having."""


def _digest(uuid: str) -> bytes:
    # What is remembered of an unknown uuid: it is whatever a caller sent, of any length, so a fixed-size digest.
    return hashlib.sha256(uuid.encode("utf-8", "surrogatepass")).digest()


class _Unknown:
    """uuids the store said it does not know, remembered for ``ttl_s``: asking again for one costs no store read
    (a flood of one wrong uuid is not a flood of CouchDB queries) and answers as fast as a known uuid does (no
    timing oracle). At most ``size`` are kept, the oldest dropped first. Thread-safe."""

    def __init__(self, ttl_s: float, size: int, clock: Callable[[], float]) -> None:
        self._ttl_s = ttl_s
        self._size = size
        self._clock = clock
        self._until: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, uuid: str) -> bool:
        digest = _digest(uuid)
        with self._lock:
            until = self._until.get(digest)
            if until is None:
                return False
            if until > self._clock():
                return True
            del self._until[digest]
            return False

    def add(self, uuid: str) -> None:
        if self._ttl_s <= 0:
            return
        digest = _digest(uuid)
        with self._lock:
            self._until[digest] = self._clock() + self._ttl_s
            self._until.move_to_end(digest)
            while len(self._until) > self._size:
                self._until.popitem(last=False)

    def discard(self, uuid: str) -> None:
        with self._lock:
            self._until.pop(_digest(uuid), None)

    def clear(self) -> None:
        with self._lock:
            self._until.clear()


class IdentityService:
    """``cache_seconds``: how long a looked-up identity, or the store's word that a uuid is unknown, is trusted;
    ``stale_seconds``: how long after it was looked up an identity is still served while the store cannot be
    reached (``app.core.lookups``)."""

    def __init__(self, subjects: SubjectStore, cache_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, stale_seconds: float = 0.0) -> None:
        self._subjects = subjects
        self._cache: LookupCache[str, Identity] = LookupCache(cache_seconds, stale_seconds, clock)
        self._unknown = _Unknown(cache_seconds, UNKNOWN_KEPT, clock)
        self._owners: LookupCache[str, Identity] = LookupCache(cache_seconds, stale_seconds, clock)
        self._unowned = _Unknown(cache_seconds, UNKNOWN_KEPT, clock)
        # What a key is compared with when its uuid is unknown: a hash of a random key nobody holds, so that an
        # unknown uuid, a blocked one and a wrong key all cost one hash and one constant-time compare.
        self._decoy = hash_key(secrets.token_urlsafe(48))

    def authenticate(self, uuid: str, key: str) -> Identity:
        """The identity owning this key. Raises ``Unauthorized`` for an unknown, wrong or blocked key, and
        ``StoreUnavailable`` when the store cannot say (an unknown key during an outage is not a wrong one)."""
        identity = self._find(uuid)
        matches = key_matches(key, self._decoy if identity is None else identity.key_hash)
        if identity is None or identity.blocked or not matches:
            raise Unauthorized()
        return identity

    def _find(self, uuid: str) -> Identity | None:
        """The identity of ``uuid``, or None when the store does not know it; both kept ``cache_seconds``."""
        if uuid in self._unknown:
            return None
        try:
            return self._cache.get(uuid, lambda: self._read(uuid))
        except Unauthorized:
            self._unknown.add(uuid)
            return None

    def _read(self, uuid: str) -> Identity:
        try:
            return self._subjects.identity_by_uuid(uuid)
        except NotFound:
            raise Unauthorized() from None

    def lookup(self, uuid: str) -> Identity:
        """The identity of a key by uuid alone (an admin session re-checks it on every request, so a revoked
        or blocked key ends the session). Raises ``Unauthorized``."""
        identity = self._find(uuid)
        if identity is None or identity.blocked:
            raise Unauthorized()
        return identity

    def by_namespace(self, namespace: str) -> Identity:
        """The key of ``namespace``'s owner (not blocked): whom a web action in it runs as and is counted
        against. Kept ``cache_seconds``, and so is the store's word that nobody owns it. Raises ``NotFound``,
        and ``StoreUnavailable`` when the store cannot say."""
        if namespace in self._unowned:
            raise NotFound()
        try:
            return self._owners.get(namespace, lambda: self._subjects.identity_by_namespace(namespace))
        except NotFound:
            self._unowned.add(namespace)
            raise

    def session_secret(self) -> str:
        """A random secret shared by every controller on this store, for signing admin session cookies when
        none is configured."""
        return self._subjects.shared_secret("admin-session", secrets.token_hex(32))

    def identities(self) -> list[Identity]:
        """One identity per namespace key of every subject, by namespace."""
        found = [Identity(s.name, n.namespace, n.uuid, n.key_hash, s.blocked)
                 for s in self._subjects.list_subjects() for n in s.namespaces]
        return sorted(found, key=lambda i: i.namespace)

    def owner_of(self, namespace: str) -> Identity:
        """The identity holding ``namespace``'s key: what an operator acts as in that namespace.
        Raises ``NotFound``."""
        for identity in self.identities():
            if identity.namespace == namespace:
                return identity
        raise NotFound()

    def rotate_key(self, name: str, namespace: str) -> str:
        """Replace ``namespace``'s key of subject ``name`` with a fresh ``uuid:key`` (returned once); the old key
        stops working at once here and within the cache time on other controllers."""
        subject = self._subjects.get_subject(name)
        if not any(n.namespace == namespace for n in subject.namespaces):
            raise NotFound(f"subject '{name}' has no namespace '{namespace}'")
        uuid, key = new_credentials()
        entries = tuple(NamespaceKey(namespace, uuid, hash_key(key)) if n.namespace == namespace else n
                        for n in subject.namespaces)
        self._subjects.put_subject(Subject(subject.name, entries, subject.blocked, subject.rev))
        self._forget()
        return f"{uuid}:{key}"

    def revoke_key(self, name: str, namespace: str) -> Subject:
        """Remove ``namespace``'s key from subject ``name``; its entities stay in the store."""
        subject = self._subjects.get_subject(name)
        entries = tuple(n for n in subject.namespaces if n.namespace != namespace)
        if len(entries) == len(subject.namespaces):
            raise NotFound(f"subject '{name}' has no namespace '{namespace}'")
        updated = self._subjects.put_subject(Subject(subject.name, entries, subject.blocked, subject.rev))
        self._forget()
        return updated

    def create(self, namespace: str, subject: str | None = None, credentials: str | None = None) -> str:
        """Create a subject owning ``namespace`` (or add the namespace to it); returns ``uuid:key`` once."""
        check_name(namespace)
        name = subject or namespace
        uuid, key = split_credentials(credentials) if credentials else new_credentials()
        entry = NamespaceKey(namespace, uuid, hash_key(key))
        self._unknown.discard(uuid)  # a uuid asked for before it existed works at once here
        self._unowned.discard(namespace)
        try:
            existing = self._subjects.get_subject(name)
        except NotFound:
            self._subjects.put_subject(Subject(name, (entry,)))
        else:
            if any(n.namespace == namespace for n in existing.namespaces):
                raise Conflict(f"subject '{name}' already has namespace '{namespace}'")
            self._subjects.put_subject(Subject(name, (*existing.namespaces, entry), existing.blocked, existing.rev))
        return f"{uuid}:{key}"

    def seed(self) -> list[str]:
        """Create ``guest`` and ``whisk.system`` with OpenWhisk's well-known keys; skips those present."""
        created = []
        for namespace, credentials in WELL_KNOWN.items():
            try:
                self._subjects.get_subject(namespace)
            except NotFound:
                self.create(namespace, credentials=credentials)
                created.append(namespace)
        return created

    def identity_of(self, namespace: str) -> Identity:
        """The identity owning ``namespace`` (for work done on a namespace's behalf, like the catalog).
        Raises ``NotFound`` with a hint when no subject has it."""
        for subject in self._subjects.list_subjects():
            for entry in subject.namespaces:
                if entry.namespace == namespace:
                    return Identity(subject.name, namespace, entry.uuid, entry.key_hash, subject.blocked)
        raise NotFound(f"no subject owns namespace '{namespace}'; run 'squall admin seed' first")

    def list(self) -> list[Subject]:
        return sorted(self._subjects.list_subjects(), key=lambda s: s.name)

    def delete(self, name: str) -> None:
        self._subjects.delete_subject(self._subjects.get_subject(name))
        self._forget()

    def set_blocked(self, name: str, blocked: bool) -> Subject:
        subject = self._subjects.get_subject(name)
        updated = self._subjects.put_subject(subject.with_blocked(blocked))
        self._forget()
        return updated

    def _forget(self) -> None:
        self._cache.clear()
        self._unknown.clear()
        self._owners.clear()
        self._unowned.clear()
