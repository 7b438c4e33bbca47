"""Blocking callers' wait on the Redis result backend, bounded by each caller's wait whatever Redis does (the
controller's side of ``tasks.dispatch.CeleryDispatcher.wait`` and ``peek``)."""

from __future__ import annotations

import logging
import threading
import time

import redis
import redis.client
from celery import Celery, states

from app.core.entities import Activation
from app.core.outage import Outage
from app.state.client import quick_client

log = logging.getLogger(__name__)

OUTAGE_WAIT_S = 2.0
"""How long a blocking caller goes on trying a Redis that cannot be reached before it is answered 202: long
enough for a blip (or an action still running when Redis is back), short enough that callers do not pile up."""
RETRY_S = 0.25
"""How often a wait tries an unreachable Redis again within ``OUTAGE_WAIT_S``."""


class RedisResults:
    """Blocking callers' wait on the Redis result backend: bounded by each caller's deadline whatever Redis does.

    Why not Celery's ``AsyncResult.get``: its Redis result consumer retries a lost connection 20 times a second
    apart before it raises ``RuntimeError``, subscribes inside ``send_task`` (so a Redis outage failed the publish
    too), and looks at the deadline only between reads: callers got a 500 after 19 s, or an answer long past
    their wait. Here each thread keeps one pub/sub connection of a client with short socket timeouts
    (``app.state.client``), every read is bounded by the time left, and a Redis that cannot be reached ends the
    wait with None within ``OUTAGE_WAIT_S``: the caller answers 202 with the activation id, and the record is
    read from the store later. Results are read as Celery wrote them (its key and encoding), so the invokers'
    ``backend.store_result`` is unchanged.
    """

    def __init__(self, celery: Celery, url: str) -> None:
        self._celery = celery
        self._client = quick_client(url)
        self._outage = Outage("Redis (blocking invokes' results; answering 202 meanwhile)", log)
        self._local = threading.local()

    def _key(self, activation_id: str) -> bytes:
        key = self._celery.backend.get_key_for_task(activation_id)
        return key if isinstance(key, bytes) else str(key).encode()

    def _decode(self, raw: bytes) -> Activation | None:
        meta = self._celery.backend.decode_result(raw)
        value = meta.get("result") if isinstance(meta, dict) and meta.get("status") == states.SUCCESS else None
        return Activation.from_doc(value) if isinstance(value, dict) else None

    def _pubsub(self) -> redis.client.PubSub:
        pubsub: redis.client.PubSub | None = getattr(self._local, "pubsub", None)
        if pubsub is None:
            pubsub = self._client.pubsub()
            self._local.pubsub = pubsub
        return pubsub

    def _drop_pubsub(self) -> None:
        pubsub: redis.client.PubSub | None = getattr(self._local, "pubsub", None)
        self._local.pubsub = None
        if pubsub is not None:
            try:
                pubsub.reset()
            except (redis.RedisError, OSError):
                log.debug("closing a broken pub/sub connection", exc_info=True)

    def peek(self, activation_id: str) -> Activation | None:
        """The finished activation if the backend has it; None when not, or when Redis cannot be reached."""
        if self._outage.skip():
            return None
        try:
            raw = self._client.get(self._key(activation_id))
        except redis.RedisError as e:
            self._outage.failed(e)
            return None
        self._outage.succeeded()
        return self._decode(raw) if isinstance(raw, bytes) else None

    def wait(self, activation_id: str, timeout_s: float) -> Activation | None:
        """The activation once its result is published, or None at ``timeout_s`` (or within ``OUTAGE_WAIT_S`` of
        finding Redis unreachable). Never raises for Redis, never returns after the deadline by more than a
        socket timeout."""
        deadline = time.monotonic() + timeout_s
        give_up = deadline
        while True:
            if not self._outage.skip():
                try:
                    found, done = self._listen(activation_id, deadline)
                except (redis.RedisError, OSError) as e:
                    self._outage.failed(e)
                    self._drop_pubsub()
                else:
                    self._outage.succeeded()
                    return found if done else None
            now = time.monotonic()
            give_up = min(give_up, now + OUTAGE_WAIT_S)
            if now + RETRY_S >= give_up:
                return None
            time.sleep(RETRY_S)  # waiting for Redis to come back, within the caller's wait

    def _listen(self, activation_id: str, deadline: float) -> tuple[Activation | None, bool]:
        """(activation, True) once its result is there, (None, False) at the deadline; raises Redis errors."""
        key = self._key(activation_id)
        pubsub = self._pubsub()
        pubsub.subscribe(key)
        try:
            # Once Redis confirmed the subscription no publish is missed; one published before is read with GET.
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None, False
                message = pubsub.get_message(timeout=min(left, 1.0))
                if message is None:
                    continue
                if message["type"] == "message" and message["channel"] == key:
                    return self._decode(message["data"]), True
                if message["type"] == "subscribe" and message["channel"] == key:
                    raw = self._client.get(key)
                    if isinstance(raw, bytes):
                        return self._decode(raw), True
        finally:
            try:
                pubsub.unsubscribe(key)  # type: ignore[no-untyped-call]  # the confirmation is skipped next time
            except (redis.RedisError, OSError):
                self._drop_pubsub()  # whatever was found stands; the next wait starts a new connection
