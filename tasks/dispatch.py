"""The Celery dispatcher: publishes activations to invoker queues and waits on the result backend."""

from __future__ import annotations

import logging
import os
import threading
import uuid
import zlib
from dataclasses import replace
from typing import Any

from celery import Celery, states
from celery.exceptions import TimeoutError as CeleryTimeout
from celery.utils.nodenames import anon_nodename
from kombu.entity import Queue
from kombu.exceptions import OperationalError

from app.core.entities import Activation, ActivationMessage, Document
from app.core.errors import Unavailable
from app.core.placement import Placement
from app.core.ports import NOT_SENT, Ahead
from app.core.services.placement import Placer
from app.state import is_redis
from tasks import names
from tasks.results import REPLY_CHANNEL_PREFIX, RedisResults, ResultListener, hand_back, result_key

log = logging.getLogger(__name__)

NO_INVOKER = "No invokers are available to run the action; try again shortly."
_RETRY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2}
_SHOWN = ("event", "activation_id", "activationId", "namespace")


def shown(kwargs: dict[str, Any]) -> str:
    """What Flower and the worker's log show of a task's keyword arguments: which activation and step, never
    what it was given (payloads, results, API keys), which Celery's default repr of the whole message would."""
    seen = {k: v for k, v in kwargs.items() if k in _SHOWN}
    for value in kwargs.values():
        if isinstance(value, dict):
            seen.update((k, v) for k, v in value.items() if k in _SHOWN and k not in seen)
    return repr(seen)


def _invoke_shown(message: ActivationMessage) -> str:
    return f"{{'activation_id': {message.activation_id!r}, 'namespace': {message.namespace!r}}}"


class CeleryDispatcher:
    """Implements ``app.core.ports.Dispatcher``, ``ResultSink`` and ``CompositionStarter`` over a Celery app
    (RabbitMQ + result backend). Composition steps use it in invoker processes too.

    With a ``placer`` (the invoker registry is shared: Redis), each activation goes to a live invoker with room
    (``app.core.placement``); without one, to a fixed home among ``queues`` by a hash of the action.
    """

    def __init__(self, celery: Celery, queues: tuple[str, ...], placer: Placer | None = None) -> None:
        self._celery = celery
        self._queues = queues
        self._placer = placer
        self._results_lock = threading.Lock()
        self._results: RedisResults | None = None
        self._listener: ResultListener | None = None
        self._results_built = False
        self._origin_name = ""
        self._origin_of = 0
        self._bound_lock = threading.Lock()
        self._bound: dict[Any, dict[str, Queue]] = {}  # channel → queue name → the queue bound to it

    def _redis_results(self) -> RedisResults | None:
        """The Redis wait when the result backend is Redis (built on first use: nothing at construction)."""
        if not self._results_built:
            with self._results_lock:
                if not self._results_built:
                    url = str(self._celery.conf.result_backend or "")
                    if is_redis(url):
                        self._results = RedisResults(self._celery, url)
                        self._listener = ResultListener(self._celery, url,
                                                        f"{REPLY_CHANNEL_PREFIX}{uuid.uuid4().hex}")
                    self._results_built = True
        return self._results

    def _reply_to(self, message: ActivationMessage) -> str | None:
        """This process's reply channel for a blocking invoke (a waiter registered for it), else None: then the
        result is waited for on its own key (compositions, another result backend, Redis away at the start)."""
        if not message.blocking or message.continuation is not None or self._redis_results() is None:
            return None
        assert self._listener is not None
        channel = self._listener.channel()
        if channel is not None:
            self._listener.expect(message.activation_id)
        return channel

    def _fixed_queue(self, key: str) -> str:
        return self._queues[zlib.crc32(key.encode()) % len(self._queues)]

    def _step_queue(self, key: str) -> str:
        if self._placer is None:
            return self._fixed_queue(key)
        home = self._placer.home(key)
        if home is None:
            raise Unavailable(NO_INVOKER)
        return home

    def publish_step(self, step: dict[str, Any], key: str) -> None:
        queue = self._step_queue(key)
        try:
            self._celery.send_task(names.COMPOSITION_STEP, kwargs=step, queue=queue, retry=True,
                                   argsrepr="()", kwargsrepr=shown(step),
                                   retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2})
        except OperationalError as e:
            raise Unavailable() from e

    def store_result(self, activation_id: str, activation: dict[str, Any]) -> None:
        # A composition's blocking caller waits on the result's own key (``RedisResults``).
        if self._redis_results() is not None:
            hand_back(self._celery, activation_id, activation, result_key(self._celery, activation_id))
        else:
            self._celery.backend.store_result(activation_id, activation, states.SUCCESS)

    def publish(self, message: ActivationMessage, ahead: Ahead | None = None) -> None:
        key = f"{message.namespace}|{message.action}"
        placement: Placement | None = None
        if self._placer is None:
            if ahead is not None:
                ahead.then(NOT_SENT)
            queue = self._fixed_queue(key)
        else:
            # The throttle's count and the in-flight slot (``ahead``) travel with the reservation: one round trip.
            placement, reply = self._placer.place_after(ahead.commands if ahead is not None else None, key,
                                                        message.memory_mb)
            if ahead is not None:
                try:
                    ahead.then(reply)  # may refuse the activation (429): nothing is published then
                except BaseException:
                    if placement is not None:
                        self._placer.unplace(placement, message.memory_mb)
                    raise
            if placement is None:
                raise Unavailable(NO_INVOKER)
            queue = placement.invoker
            if placement.reserved:
                message = replace(message, placed_on=queue, reserved_mb=message.memory_mb)
        reply_to = self._reply_to(message)
        if reply_to is not None:
            message = replace(message, reply_to=reply_to)
        try:
            if self._redis_results() is not None:
                self._send_invoke(message, queue)
            else:  # another result backend may need send_task's steps (rpc:// declares a reply queue per call)
                self._celery.send_task(names.INVOKE, kwargs=message.to_dict(), task_id=message.activation_id,
                                       queue=queue, shadow=f"/{message.action}", argsrepr="()",
                                       kwargsrepr=_invoke_shown(message), ignore_result=not message.blocking,
                                       retry=True, retry_policy=_RETRY)
        except OperationalError as e:
            if placement is not None and self._placer is not None:
                self._placer.unplace(placement, message.memory_mb)
            if reply_to is not None and self._listener is not None:
                self._listener.forget(message.activation_id)
            raise Unavailable() from e
        except BaseException:
            if reply_to is not None and self._listener is not None:
                self._listener.forget(message.activation_id)  # nobody will wait for it: no waiter left behind
            raise

    def _send_invoke(self, message: ActivationMessage, queue: str) -> None:
        """With a Redis result backend: publish the activation as a ``squall.invoke`` task message (Celery's
        protocol 2, built by Celery) with kombu's producer; the confirm, the retry and the queue's declaration are
        kombu's, as under ``send_task``.

        ``send_task``'s own steps are left out because none applies to an invoke from a controller: routing (the
        queue is chosen here), a parent task's ids (there is none), the publish signals and the ``AsyncResult``
        (the result comes back through ``tasks.results``). They cost about 80 µs of the controller's CPU per
        invoke (docs/benchmarks.md, "2026-12-07, evening").
        """
        amqp = self._celery.amqp
        headers, properties, body, _ = amqp.create_task_message(
            message.activation_id, names.INVOKE, (), message.to_dict(),
            shadow=f"/{message.action}",  # Flower and logs show what ran, not just "squall.invoke"
            # Which activation, never what it was given: Celery would otherwise put a repr of the whole message
            # (payload, API key) in its headers and events, and building it cost 5 % of a request.
            argsrepr="()", kwargsrepr=_invoke_shown(message),
            # A blocking caller waits through this process's listener or its own subscription (tasks.results),
            # never through Celery, so a Redis outage cannot fail (or stall) the publish.
            ignore_result=True, origin=self._origin())
        with self._celery.producer_or_acquire() as producer:
            connection = producer.connection
            try:
                # Created (durable, as Celery's) when missing: messages wait for an invoker.
                declared = self._bound_queue(producer.channel, queue)
                producer.publish(body, exchange="", routing_key=queue, declare=[declared], headers=headers,
                                 serializer="json", delivery_mode=2, retry=True, retry_policy=_RETRY, **properties)
            except (*connection.connection_errors, *connection.channel_errors) as e:
                raise OperationalError(str(e)) from e  # as send_task raises it: the caller answers 503

    def _bound_queue(self, channel: Any, name: str) -> Queue:
        """Celery's queue ``name`` bound to ``channel``, bound once per channel.

        kombu checks a queue's declaration inside every publish (``declare=``), against the connection's record of
        what it declared, and declares it again on a new connection. Given a queue not yet bound, it first binds a
        copy of it to the channel, on every publish: 31 of the check's 39 µs (docs/benchmarks.md, "2026-12-08: two
        steps off the broker's path"). The check itself stays kombu's. A channel replaced after a lost connection
        is a new key; closed channels are dropped when one is added (a bound queue holds its channel, so weak keys
        would never let go).
        """
        with self._bound_lock:
            on_channel = self._bound.get(channel)
            if on_channel is None:
                for closed in [c for c in self._bound if not getattr(c, "is_open", True)]:
                    del self._bound[closed]
                on_channel = self._bound[channel] = {}
            found = on_channel.get(name)
            if found is None:
                found = on_channel[name] = self._celery.amqp.queues[name].bind(channel)
        return found

    def _origin(self) -> str:
        """Celery's ``origin`` header, the sending process (``gen<pid>@<host>``): computed once per process rather
        than once per message as Celery does (a forked gunicorn worker gets its own)."""
        pid = os.getpid()
        if self._origin_of != pid:
            self._origin_name, self._origin_of = anon_nodename(), pid
        return self._origin_name

    def wait(self, activation_id: str, timeout_s: float) -> Activation | None:
        """The finished activation, or None when it did not finish within ``timeout_s`` or the result backend
        failed (the caller answers 202 with the id). Never raises: the activation was accepted."""
        results = self._redis_results()
        if self._listener is not None and self._listener.expects(activation_id):
            return self._listener.wait(activation_id, timeout_s)
        if results is not None:
            return results.wait(activation_id, timeout_s)
        result = self._celery.AsyncResult(activation_id)
        try:
            value = result.get(timeout=timeout_s, propagate=False, disable_sync_subtasks=False)
        except Exception as e:  # a timeout, or a backend that failed: either way the record is read later
            if not isinstance(e, CeleryTimeout):
                log.warning("waiting for %s failed: %r", activation_id, e)
            remove = getattr(self._celery.backend, "remove_pending_result", None)
            if remove is not None:
                try:
                    remove(result)
                except Exception:
                    log.debug("could not stop listening for %s", activation_id, exc_info=True)
            return None
        return Activation.from_doc(value) if isinstance(value, dict) else None

    def peek(self, activation_id: str) -> Activation | None:
        """The finished activation if the result backend has it; None when not or when it cannot be read."""
        results = self._redis_results()
        if results is not None:
            return results.peek(activation_id)
        try:
            meta = self._celery.backend.get_task_meta(activation_id)
        except Exception as e:
            log.warning("reading the result of %s failed: %r", activation_id, e)
            return None
        value = meta.get("result") if meta.get("status") == "SUCCESS" else None
        return Activation.from_doc(value) if isinstance(value, dict) else None


class CeleryFollowUps:
    """Implements ``app.core.ports.FollowUps`` for an invoker: both hand-overs are tasks on its own queue, published
    (with confirms) before the activation's message is acknowledged, so a crash in between redelivers the message
    rather than losing either."""

    def __init__(self, celery: Celery, queue: str) -> None:
        self._celery = celery
        self._queue = queue

    def keep_record(self, doc: Document) -> None:
        self._send(names.STORE_RECORD, {"doc": doc})

    def continue_composition(self, event: dict[str, Any]) -> None:
        self._send(names.COMPOSITION_STEP, event)

    def _send(self, task: str, kwargs: dict[str, Any]) -> None:
        try:
            self._celery.send_task(task, kwargs=kwargs, queue=self._queue, retry=True,
                                   argsrepr="()", kwargsrepr=shown(kwargs),
                                   retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2})
        except OperationalError as e:
            raise Unavailable() from e
