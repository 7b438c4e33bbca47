"""Blocking callers' wait on the Redis result backend, bounded by each caller's wait whatever Redis does (the
controller's side of ``tasks.dispatch.CeleryDispatcher.wait`` and ``peek``)."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Sequence

import redis
import redis.client
from celery import Celery, states

from app.core.entities import Activation
from app.core.outage import Outage
from app.core.ports import SharedWrite
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


REPLY_CHANNEL_PREFIX = "squall:replies:"
LISTENER_RETRY_S = 0.5
"""How often the result listener tries to reach Redis again after losing it."""
SUBSCRIBE_WAIT_S = 0.5
"""How long the first blocking invoke of a process waits for the listener's subscription before it waits the
per-request way instead."""
HAND_BACK_TIMEOUT_S = 1.0
"""Socket timeouts of an invoker's hand-back: a local Redis stores even a megabyte's result well within it."""
PUBLISH_PAUSES_S = (0.1, 0.3)
"""Pauses between tries of an invoker's hand-back after a connection error (as the backend's retry policy in
``tasks.celery_app``): a pooled connection that Redis dropped while it was away fails once, then reconnects."""


def hand_back(celery: Celery, activation_id: str, result: dict[str, object], channel: str | None,
              writes: Sequence[SharedWrite] = ()) -> None:
    """An invoker's hand-back of an activation's result: stored under Celery's key (so ``peek`` and a
    ``GET /activations/{id}`` before the record lands read it) and, for a blocking caller, published on
    ``channel`` (the waiting controller process's own, or the key itself for a per-request wait), in one round
    trip. Written here rather than by ``backend.store_result``, which reads the key before it writes and wraps
    the write in MULTI/EXEC: a quarter of the invoker's CPU per activation went to handing results back.
    ``writes`` (the shared state's, ``app.core.ports.SharedWrite``) go first in the same round trip, so Redis has
    them before anyone can see the result. Raises ``redis.RedisError`` (the record is stored either way)."""
    backend = celery.backend
    meta = {"status": states.SUCCESS, "result": result, "traceback": None, "children": [],
            "date_done": celery.now().isoformat(), "task_id": activation_id}
    encoded = backend.encode(meta)
    key = backend.get_key_for_task(activation_id)
    client = _hand_back_client(str(celery.conf.result_backend))
    for pause in (*PUBLISH_PAUSES_S, None):
        try:
            with client.pipeline(transaction=False) as pipe:
                for write in writes:  # each one is idempotent: sent again with a retry, it changes nothing
                    pipe.execute_command(*write)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
                pipe.set(key, encoded, ex=backend.expires or None)
                if channel is not None:
                    pipe.publish(channel, encoded)
                pipe.execute()
            return
        except (redis.ConnectionError, redis.TimeoutError):
            if pause is None:
                raise
            time.sleep(pause)  # backoff before reconnecting


@functools.cache
def _hand_back_client(url: str) -> redis.Redis:
    """The invokers' client for hand-backs, one per process (made on first use): short timeouts, unlike the
    Celery backend's 5 s, so a connection left stale by a Redis restart costs a result a second at most, not
    five (the Redis fault test's recovery went from about 3 to 5-6 s on the backend's client)."""
    return quick_client(url, timeout_s=HAND_BACK_TIMEOUT_S)


def reply_channel(message: dict[str, object], key: str) -> str | None:
    """Where an invoker publishes an activation's result: the controller process's channel the message names
    (only one of ours: a message is never trusted to pick any channel of the deployment's Redis), else the
    result's key for a blocking caller waiting per request (a composition, or a controller without a listener),
    else nowhere (non-blocking: the result is only kept)."""
    reply_to = message.get("reply_to")
    if isinstance(reply_to, str) and reply_to.startswith(REPLY_CHANNEL_PREFIX) and len(reply_to) <= 128:
        return reply_to
    return key if message.get("blocking") is True else None


def result_key(celery: Celery, activation_id: str) -> str:
    """The result backend's key of an activation, also the channel a per-request wait subscribes to."""
    key = celery.backend.get_key_for_task(activation_id)
    return key.decode() if isinstance(key, bytes) else str(key)


class _Waiter:
    __slots__ = ("activation", "done")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.activation: Activation | None = None


class ResultListener:
    """One Redis subscription per controller process for the results of its blocking invokes.

    Each blocking activation's message names this process's channel (``reply_to``); its invoker publishes the
    result there (``hand_back``), and one thread hands each result to the request waiting for it. Against
    a subscription per request (``RedisResults``) this saves the subscribe, the read after it and the unsubscribe:
    three Redis round trips and their parsing per blocking invoke, about 10 % of a controller's CPU. As
    OpenWhisk's controllers each read the completion acks on their own topic.

    No result is missed: a waiter is registered (``expect``) before its activation is published, and the
    subscription is confirmed before anyone is told the channel (``channel`` waits for it). After a lost
    connection the listener subscribes again and reads every awaited result that was stored meanwhile (the
    invoker stores before it publishes). While Redis cannot be reached, waits end within ``OUTAGE_WAIT_S`` with
    None (the caller answers 202), as ``RedisResults.wait`` does. The thread starts on first use, never at import
    or construction.
    """

    def __init__(self, celery: Celery, url: str, name: str) -> None:
        self._celery = celery
        self._client = quick_client(url, name=name)  # CLIENT LIST shows which process a subscription is
        self._name = name
        self._lock = threading.Lock()
        self._waiters: dict[str, _Waiter] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._down_since: float | None = None
        self._outage = Outage("Redis (blocking invokes' results; answering 202 meanwhile)", log)

    def channel(self, timeout_s: float = SUBSCRIBE_WAIT_S) -> str | None:
        """This process's reply channel once the subscription is confirmed; None while Redis cannot be reached
        (at once once the listener knows, else after ``timeout_s``): the caller then waits the per-request way."""
        if self._subscribed.is_set():
            return self._name
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="squall-results", daemon=True)
                    self._thread.start()
        if self._down_since is None and self._subscribed.wait(timeout_s):
            return self._name
        return None

    def expect(self, activation_id: str) -> None:
        """Register a waiter for ``activation_id``: call before its activation is published."""
        with self._lock:
            self._waiters[activation_id] = _Waiter()

    def expects(self, activation_id: str) -> bool:
        return activation_id in self._waiters

    def forget(self, activation_id: str) -> None:
        """Drop a waiter whose activation was not published after all."""
        with self._lock:
            self._waiters.pop(activation_id, None)

    def wait(self, activation_id: str, timeout_s: float) -> Activation | None:
        """The activation once its result arrives; None at ``timeout_s``, or once Redis has been unreachable for
        ``OUTAGE_WAIT_S`` during the wait. Never raises."""
        waiter = self._waiters.get(activation_id)
        if waiter is None:
            return None
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                if waiter.done.wait(min(left, RETRY_S)):
                    return waiter.activation
                down_since = self._down_since
                if down_since is not None and time.monotonic() - down_since >= OUTAGE_WAIT_S:
                    return None
        finally:
            self.forget(activation_id)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    # --- the listening thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            pubsub = self._client.pubsub()
            try:
                self._listen(pubsub)
            except (redis.RedisError, OSError) as e:
                self._subscribed.clear()
                if self._down_since is None:
                    self._down_since = time.monotonic()
                self._outage.failed(e)
            finally:
                try:
                    pubsub.reset()
                except (redis.RedisError, OSError):
                    log.debug("closing a broken pub/sub connection", exc_info=True)
            self._stop.wait(LISTENER_RETRY_S)  # Redis is away: try again shortly

    def _listen(self, pubsub: redis.client.PubSub) -> None:
        pubsub.subscribe(self._name)
        while not self._stop.is_set():
            message = pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            if message["type"] == "subscribe":
                # From here on no publish is missed; what was published while away is read from the keys.
                self._recover()
                self._down_since = None
                self._outage.succeeded()
                self._subscribed.set()
            elif message["type"] == "message":
                self._deliver(message["data"])

    def _recover(self) -> None:
        with self._lock:
            ids = list(self._waiters)
        if not ids:
            return
        keys = [self._celery.backend.get_key_for_task(i) for i in ids]
        for raw in self._client.mget(keys):
            if isinstance(raw, bytes):
                self._deliver(raw)

    def _deliver(self, raw: bytes) -> None:
        try:
            meta = self._celery.backend.decode_result(raw)
        except Exception:  # not a result at all: whoever sent it, the listener must outlive it
            log.warning("a message on %s that is not a result was dropped (%d bytes)", self._name, len(raw))
            return
        if not isinstance(meta, dict):
            return
        waiter = self._waiters.get(str(meta.get("task_id")))
        if waiter is None:  # its caller stopped waiting meanwhile
            return
        value = meta.get("result") if meta.get("status") == states.SUCCESS else None
        try:
            waiter.activation = Activation.from_doc(value) if isinstance(value, dict) else None
        except (KeyError, TypeError, ValueError):
            log.exception("a result that is not an activation record was published for %s", meta.get("task_id"))
            waiter.activation = None
        waiter.done.set()
