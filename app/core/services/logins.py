"""Logging in and out: how often a client may try (admin login attempts, failed API authentications), counted in
one-minute windows in the counter the namespace throttles use, so every controller counts together; and which
admin sessions have ended, so that a copy of a cookie is refused after its owner logged out."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable

from app.core.entities import now_ms
from app.core.errors import StoreError
from app.core.limits import WINDOW_MS, check_rate, window_key, window_left_s
from app.core.ports import RateCounter, Revisions

log = logging.getLogger(__name__)

_COUNT_TTL_S = WINDOW_MS // 1000 + 5  # a window's count outlives its minute a little, for clocks a bit apart


class LoginThrottle:
    def __init__(self, counter: RateCounter, allowed_per_minute: int) -> None:
        self._counter = counter
        self._allowed = allowed_per_minute

    def attempt(self, client: str) -> None:
        """Count one login attempt from ``client``; raises ``Throttled`` past the allowed number this minute."""
        now = now_ms()
        count = self._counter.increment(window_key("logins", client, now), _COUNT_TTL_S)
        check_rate(count, self._allowed, "logins", now_ms=now)


class AuthFailures:
    """Failed API authentications, counted per client address and per uuid (from any address).

    Only failures count and only failures are refused: past ``allowed_per_minute`` of either count, a failure is
    answered 429 instead of 401, while a correct key is always accepted. Keys are 64 random characters, so the
    throttle is not what stops guessing; it tells a flooding client to back off, shows the flood in one shared
    count, and cannot be turned against anyone: failing on purpose with a tenant's uuid, or from the address of a
    proxy or of the alarm scheduler, locks nobody out.
    """

    def __init__(self, counter: RateCounter, allowed_per_minute: int,
                 clock_ms: Callable[[], int] = now_ms) -> None:
        self._counter = counter
        self._allowed = allowed_per_minute
        self._clock_ms = clock_ms

    def failed(self, client: str, uuid: str) -> int | None:
        """Count one failure by ``client`` with ``uuid``: None while within the allowed number this minute,
        else the seconds until the minute ends (the answer's ``Retry-After``)."""
        now = self._clock_ms()
        # Both counts are taken whatever the uuid is, so an unknown uuid costs what a known one does. The uuid
        # is hashed: it is whatever the caller sent, of any length, and becomes a Redis key.
        uuid_id = hashlib.sha256(uuid.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        by_client = self._counter.increment(window_key("auth-failures", client, now), _COUNT_TTL_S)
        by_uuid = self._counter.increment(window_key("auth-failures-uuid", uuid_id, now), _COUNT_TTL_S)
        if max(by_client, by_uuid) <= self._allowed:
            return None
        return window_left_s(now)


class EndedSessions:
    """Admin sessions ended by logging out, each known by the random id its cookie carries.

    A session cookie is signed, not stored, so without this a copy of it (a shared machine, a proxy log) would
    open the pages until it expired, logout or not. An ended id is remembered for ``remember_s``, the session
    lifetime, after which every cookie bearing it has expired anyway.

    ``shared``: where every controller records and reads ended ids (a key/value store with expiry, set to
    ``remember_s`` by whoever built it), or None in a one-process deployment. Ids are also kept in this process,
    so this controller refuses them even if the shared store lost the write. While the shared store cannot be
    reached a session is taken as not ended (it fails open, as the throttles do): refusing every session then
    would lock every operator out during an outage.
    """

    _ENDED = "ended"

    def __init__(self, shared: Revisions | None, remember_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._shared = shared
        self._remember_s = remember_s
        self._clock = clock
        self._here: dict[str, float] = {}  # id -> when it may be forgotten
        self._lock = threading.Lock()

    def end(self, session_id: str) -> None:
        now = self._clock()
        with self._lock:
            for stale in [s for s, until in self._here.items() if until <= now]:
                del self._here[stale]
            self._here[session_id] = now + self._remember_s
        if self._shared is None:
            return
        try:
            self._shared.record(session_id, self._ENDED)
        except StoreError as e:
            log.error("could not share that an admin session ended (%s): other controllers accept its cookie "
                      "until it expires", e)

    def has_ended(self, session_id: str) -> bool:
        with self._lock:
            until = self._here.get(session_id)
        if until is not None and until > self._clock():
            return True
        if self._shared is None:
            return False
        try:
            return self._shared.current(session_id) == self._ENDED
        except StoreError:
            return False
