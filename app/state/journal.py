"""The start journal: which activations an invoker has begun to run, and the record of each that ran to its end
until that record is stored.

Why: with ``task_acks_late`` a message comes back if its invoker dies. A redelivered message whose activation
already started must not run the action again ("no action body runs twice"); the claim, taken right before
``/run``, tells the invoker which case it is in. One that ran to its end but whose invoker died before its record
was stored still has that record here (``keep``), so the redelivery stores the real result rather than an error.
Claims are shared (Redis) so any invoker that gets the redelivery sees them; they expire after a day, kept records
after an hour (once the record is stored they are dropped with the next result an invoker hands back:
``forget_later``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading

import redis
import redis.exceptions

from app.core.entities import Document
from app.core.errors import Unavailable
from app.core.ports import SharedWrite

CLAIM_TTL_S = 86_400
KEPT_TTL_S = 3_600
KEY_PREFIX = "squall:started:"
KEPT_PREFIX = "squall:kept:"
MAX_FORGOTTEN = 1_000
"""Drops left for a later round trip (``forget_later``) beyond which they are made at once: more than a burst of
activations ends between two results' round trips only when no result is handed back."""
TIMEOUT_S = 2.0
"""Socket timeouts: an invoker waits and retries while Redis is unreachable, so each try must end quickly."""
UNREACHABLE = "The activation journal (Redis) cannot be reached."

log = logging.getLogger(__name__)


class RedisJournal:
    """``app.core.ports.StartJournal`` over Redis. Claims as ``SET key 1 NX EX ttl``: atomic, one round trip."""

    def __init__(self, redis_url: str, ttl_s: int = CLAIM_TTL_S, prefix: str = KEY_PREFIX,
                 kept_ttl_s: int = KEPT_TTL_S, kept_prefix: str = KEPT_PREFIX) -> None:
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
        self._ttl_s = ttl_s
        self._prefix = prefix
        self._kept_ttl_s = kept_ttl_s
        self._kept_prefix = kept_prefix
        self._lock = threading.Lock()
        self._forgotten: list[str] = []  # kept records whose activations are stored, to drop in a later round trip

    def claim(self, activation_id: str) -> bool:
        try:
            return bool(self._redis.set(self._prefix + activation_id, b"1", nx=True, ex=self._ttl_s))
        except redis.exceptions.RedisError as e:
            raise Unavailable(UNREACHABLE) from e

    def keep(self, activation_id: str, doc: Document) -> None:
        data = json.dumps(doc, separators=(",", ":"))
        try:
            self._redis.set(self._kept_prefix + activation_id, data, ex=self._kept_ttl_s)
        except redis.exceptions.RedisError as e:
            raise Unavailable(UNREACHABLE) from e

    def keep_later(self, activation_id: str, doc: Document) -> SharedWrite:
        return ("SET", self._kept_prefix + activation_id, json.dumps(doc, separators=(",", ":")), "EX",
                self._kept_ttl_s)

    def kept(self, activation_id: str) -> Document | None:
        try:
            data = self._redis.get(self._kept_prefix + activation_id)
        except redis.exceptions.RedisError as e:
            raise Unavailable(UNREACHABLE) from e
        if data is None:
            return None
        doc = json.loads(data)
        return doc if isinstance(doc, dict) else None

    def forget(self, activation_id: str) -> None:
        self._delete([self._kept_prefix + activation_id])

    def _delete(self, keys: list[str]) -> None:
        try:
            self._redis.delete(*keys)
        except redis.exceptions.RedisError as e:
            raise Unavailable(UNREACHABLE) from e

    def forget_later(self, activation_id: str) -> None:
        # The next result handed back carries the drop (``forgotten``): one round trip fewer per activation. The
        # record is stored already, so a drop made late, or lost with that round trip, changes nothing but how
        # long the copy takes Redis's memory (at most ``kept_ttl_s``).
        with self._lock:
            self._forgotten.append(self._kept_prefix + activation_id)
            if len(self._forgotten) < MAX_FORGOTTEN:
                return
            keys, self._forgotten = self._forgotten, []
        try:
            self._delete(keys)
        except Unavailable as e:
            log.warning("%d kept records are not dropped (they expire on their own): %s", len(keys), e.message)

    def forgotten(self) -> SharedWrite | None:
        with self._lock:
            keys, self._forgotten = self._forgotten, []
        return ("DEL", *keys) if keys else None

    def close(self) -> None:
        with self._lock:
            keys, self._forgotten = self._forgotten, []
        if keys:
            with contextlib.suppress(Unavailable):  # stopping: they expire on their own
                self._delete(keys)
        self._redis.close()


class MemoryJournal:
    """``StartJournal`` in this process: claims and kept records, for tests and single-process use."""

    def __init__(self) -> None:
        self._claimed: set[str] = set()
        self._kept: dict[str, Document] = {}
        self._lock = threading.Lock()

    def claim(self, activation_id: str) -> bool:
        with self._lock:
            if activation_id in self._claimed:
                return False
            self._claimed.add(activation_id)
            return True

    def keep(self, activation_id: str, doc: Document) -> None:
        with self._lock:
            self._kept[activation_id] = doc

    def keep_later(self, activation_id: str, doc: Document) -> None:
        self.keep(activation_id, doc)

    def kept(self, activation_id: str) -> Document | None:
        with self._lock:
            return self._kept.get(activation_id)

    def forget(self, activation_id: str) -> None:
        with self._lock:
            self._kept.pop(activation_id, None)

    def forget_later(self, activation_id: str) -> None:
        self.forget(activation_id)  # in this process: nothing to save by waiting

    def forgotten(self) -> None:
        return None

    def close(self) -> None:
        return None
