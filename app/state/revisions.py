"""The current revision of each entity, in Redis: the cheap check that lets every controller process cache
entities and still see an update on its very next request.

Why not only a TTL: a cached action would run stale code for up to the TTL after an update. Why not pub/sub
invalidation alone: a message can arrive after the next request (or be lost while a subscriber reconnects).
A ``GET`` per lookup costs about a tenth of reading the document from CouchDB (README, "Benchmarks").

Writers ``SET`` the new revision after CouchDB took the write; readers that find no key ``SET NX`` the revision
they read, which can never overwrite a writer's newer value. Keys expire after ``ttl_s``, which bounds how long
a cache could stay stale if a writer's ``SET`` was lost to a Redis outage.

While Redis cannot be reached every method raises ``StoreError`` within a second (at once between probes, see
``app.core.outage``): the entity cache then reads the store, as it does for any index it cannot trust.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import redis
import redis.exceptions

from app.core.errors import StoreError
from app.core.outage import Outage
from app.state.client import quick_client

log = logging.getLogger(__name__)

KEY_PREFIX = "squall:rev:"
T = TypeVar("T")


class RedisRevisions:
    def __init__(self, url: str, ttl_s: int, prefix: str = KEY_PREFIX) -> None:
        self._redis = quick_client(url)
        self._ttl_s = ttl_s
        self._prefix = prefix
        self._outage = Outage("Redis (revision index)", log)

    def _call(self, what: str, command: Callable[[], T], *, always: bool = False) -> T:
        """``command`` against Redis; between probes of an outage, a ``StoreError`` at once unless ``always``."""
        if not always and self._outage.skip():
            raise StoreError(f"{what}: Redis is unreachable")
        try:
            value = command()
        except redis.exceptions.RedisError as e:
            self._outage.failed(e)
            raise StoreError(f"{what}: {e!r}") from e
        self._outage.succeeded()
        return value

    def current(self, doc_id: str) -> str | None:
        """The recorded revision (or deletion marker), or None when none is recorded."""
        value = self._call("revision lookup failed", lambda: self._redis.get(self._prefix + doc_id))
        return value.decode() if isinstance(value, bytes) else None

    def record(self, doc_id: str, rev: str) -> None:
        """A write happened: ``rev`` is current (overrides whatever was recorded)."""
        # Always tried: a write other controllers miss stays stale in their caches, so it is worth a timeout.
        self._call("recording revision failed", lambda: self._redis.set(self._prefix + doc_id, rev, ex=self._ttl_s),
                   always=True)

    def offer(self, doc_id: str, rev: str) -> None:
        """A read found ``rev``: record it unless something is recorded already."""
        self._call("recording revision failed",
                   lambda: self._redis.set(self._prefix + doc_id, rev, ex=self._ttl_s, nx=True))

    def close(self) -> None:
        self._redis.close()
