"""The current revision of each entity, in Redis: the cheap check that lets every controller process cache
entities and still see an update on its very next request.

Why not only a TTL: a cached action would run stale code for up to the TTL after an update. Why not pub/sub
invalidation alone: a message can arrive after the next request (or be lost while a subscriber reconnects).
A ``GET`` per lookup costs about a tenth of reading the document from CouchDB (README, "Benchmarks").

Writers ``SET`` the new revision after CouchDB took the write; readers that find no key ``SET NX`` the revision
they read, which can never overwrite a writer's newer value. Keys expire after ``ttl_s``, which bounds how long
a cache could stay stale if a writer's ``SET`` was lost to a Redis outage.
"""

from __future__ import annotations

import redis
import redis.exceptions

from app.core.errors import StoreError

KEY_PREFIX = "squall:rev:"


class RedisRevisions:
    def __init__(self, url: str, ttl_s: int, prefix: str = KEY_PREFIX) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2,
                                           health_check_interval=30)
        self._ttl_s = ttl_s
        self._prefix = prefix

    def current(self, doc_id: str) -> str | None:
        """The recorded revision (or deletion marker), or None when none is recorded."""
        try:
            value = self._redis.get(self._prefix + doc_id)
        except redis.exceptions.RedisError as e:
            raise StoreError(f"revision lookup failed: {e!r}") from e
        return value.decode() if isinstance(value, bytes) else None

    def record(self, doc_id: str, rev: str) -> None:
        """A write happened: ``rev`` is current (overrides whatever was recorded)."""
        try:
            self._redis.set(self._prefix + doc_id, rev, ex=self._ttl_s)
        except redis.exceptions.RedisError as e:
            raise StoreError(f"recording revision failed: {e!r}") from e

    def offer(self, doc_id: str, rev: str) -> None:
        """A read found ``rev``: record it unless something is recorded already."""
        try:
            self._redis.set(self._prefix + doc_id, rev, ex=self._ttl_s, nx=True)
        except redis.exceptions.RedisError as e:
            raise StoreError(f"recording revision failed: {e!r}") from e

    def close(self) -> None:
        self._redis.close()
