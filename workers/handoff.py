"""Handing off the queue of an invoker that died or left: the live invokers move its messages to themselves and
each other, so work queued for it runs within seconds instead of waiting for it to come back.

How: every ``interval_s`` each invoker asks the registry which invokers departed (announced once, silent past
their time to live, or left on purpose). One of them at a time (a short claim in the registry) takes the
departed invoker's messages one by one from RabbitMQ (``basic_get``), places each again on a live invoker as
the controllers do, publishes it there with publisher confirms, and only then acknowledges it: a crash in
between leaves the message where it was, or in both places, and the start journal keeps the action from
running twice. Messages the dead invoker had taken but not finished come back to its queue when its broker
connection drops (late acks) and are handed off the same way.

Why this and not RabbitMQ's message TTL with a dead-letter exchange into a shared queue: a TTL would also move
work away from a live invoker that is merely busy, and queue arguments cannot be changed on existing queues
(every deployment would have to delete and re-create its queues).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import Celery
from kombu.entity import Exchange, Queue
from kombu.messaging import Producer

from app.core.errors import StoreError
from app.core.ports import InvokerRegistry
from app.core.services.placement import Placer
from tasks import names

log = logging.getLogger(__name__)

CLAIM_S = 15.0
"""How long one invoker holds the hand-off of a departed invoker's queue before another may take over."""
BATCH = 200
"""Most messages moved per departed invoker and pass, so one large backlog does not starve the others."""
FORGET_AFTER_S = 600.0
"""A departed invoker whose queue stayed empty this long is no longer tracked."""


class HandOff:
    """A daemon thread of one invoker (``me``) that moves departed invokers' queued messages to live ones."""

    def __init__(self, celery: Celery, registry: InvokerRegistry, placer: Placer, me: str, interval_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._celery = celery
        self._registry = registry
        self._placer = placer
        self._me = me
        self._interval_s = interval_s
        self._clock = clock
        self._empty_since: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.moved = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="squall-handoff", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.pass_once()
            except Exception:  # the broker or Redis away: try again next interval
                log.warning("handing off departed invokers' work failed", exc_info=True)

    def pass_once(self) -> int:
        """One pass over the departed invokers; returns how many messages were moved."""
        try:
            departed = [name for name in self._registry.departed() if name != self._me]
        except StoreError as e:
            log.debug("cannot read departed invokers: %s", e)
            return 0
        moved = 0
        for name in departed:
            if self._stop.is_set():
                break
            if not self._registry.claim_handoff(name, self._me, CLAIM_S):
                continue
            count = self._drain(name)
            moved += count
            self._note(name, count)
        self.moved += moved
        return moved

    def _note(self, name: str, count: int) -> None:
        now = self._clock()
        if count:
            self._empty_since.pop(name, None)
            log.info("handed off %d queued messages of departed invoker %s", count, name)
            return
        since = self._empty_since.setdefault(name, now)
        if now - since >= FORGET_AFTER_S:
            self._registry.forget(name)
            self._empty_since.pop(name, None)
            log.info("no longer tracking departed invoker %s (its queue stayed empty)", name)

    def _drain(self, name: str) -> int:
        moved = 0
        with self._celery.connection_for_write() as conn:
            channel = conn.channel()
            try:
                source = Queue(name, Exchange(name), routing_key=name, channel=channel)
                try:
                    source.queue_declare(passive=True)
                except conn.channel_errors:  # no such queue: nothing was ever queued for it
                    return 0
                producer = Producer(channel)
                while moved < BATCH and not self._stop.is_set():
                    message = source.get(no_ack=False, accept=["json"])
                    if message is None:
                        break
                    target, body = self._target(message.headers or {}, message.body)
                    if target is None:  # no live invoker: leave it queued (it is requeued on close)
                        message.requeue()
                        break
                    producer.publish(
                        body, exchange="", routing_key=target, headers=message.headers,
                        content_type=message.content_type, content_encoding=message.content_encoding,
                        delivery_mode=2, declare=[Queue(target, Exchange(target), routing_key=target)],
                        **_properties(message.properties),
                    )
                    message.ack()  # after the broker confirmed the copy
                    moved += 1
            finally:
                channel.close()
        return moved

    def _target(self, headers: dict[str, Any], raw: bytes | str) -> tuple[str | None, bytes | str]:
        """Where a message goes, and its body (an invoke's reservation moves with it)."""
        if headers.get("task") != names.INVOKE:
            return self._placer.home(str(headers.get("id", ""))), raw
        args, kwargs, embed = json.loads(raw)
        key = f"{kwargs.get('namespace')}|{kwargs.get('action')}"
        memory = int(kwargs.get("memory_mb") or 0)
        placement = self._placer.place(key, memory)
        if placement is None:
            return None, raw
        kwargs["placed_on"] = placement.invoker if placement.reserved else None
        kwargs["reserved_mb"] = memory if placement.reserved else 0
        return placement.invoker, json.dumps([args, kwargs, embed])


def _properties(properties: dict[str, Any]) -> dict[str, Any]:
    """The AMQP properties a Celery task message carries that a copy must keep (its reply address and id)."""
    return {key: properties[key] for key in ("correlation_id", "reply_to", "priority") if properties.get(key)}
