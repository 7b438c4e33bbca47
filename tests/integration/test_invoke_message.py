"""The invoke's task message on the real RabbitMQ: what a controller publishes is Celery's own task message (protocol
2) on a durable queue, persistent, with the activation's id and the action's path as its shadow name and never a
copy of the payload in what Flower and the logs show, whichever way it was published (kombu's producer with a
Redis result backend, ``send_task`` with any other). A queue nobody declared yet keeps the message for the
invoker that will consume it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from kombu import Connection

from app.core.entities import ActivationMessage
from config import load_settings
from tasks import names
from tasks.celery_app import make_celery
from tasks.dispatch import CeleryDispatcher
from tasks.results import REPLY_CHANNEL_PREFIX

pytestmark = pytest.mark.integration

SECRET = "payload-that-must-not-show"


@pytest.fixture
def queue() -> Iterator[str]:
    name = f"test-invoke-{secrets.token_hex(4)}"
    yield name
    with Connection(load_settings().broker.url) as connection:
        connection.default_channel.queue_delete(name)


def _celery(result_backend: str) -> Celery:
    settings = load_settings(overrides={"broker": {"result_backend": result_backend}})
    return make_celery(settings)


def _message(blocking: bool) -> ActivationMessage:
    return ActivationMessage(activation_id=secrets.token_hex(16), transaction_id=secrets.token_hex(16),
                             namespace="guest", subject="guest", action="guest/pkg/hello", revision="1-a",
                             content={"secret": SECRET}, blocking=blocking, received_ms=1, api_key="u:k",
                             memory_mb=256)


def _taken(queue: str) -> Any:
    """The one message on ``queue``, taken off it, with what the queue says of itself."""
    with Connection(load_settings().broker.url) as connection:
        channel = connection.default_channel
        _, count, _ = channel.queue_declare(queue, passive=True)
        assert count == 1
        message = channel.basic_get(queue, no_ack=True)
        assert message is not None
        return message


@pytest.mark.parametrize(("backend", "blocking"), [
    pytest.param(None, True, id="redis-blocking"),  # kombu's producer, the hot path
    pytest.param(None, False, id="redis-non-blocking"),
    pytest.param("cache+memory://", True, id="other-backend"),  # send_task
])
def test_an_invoke_is_a_celery_task_message_waiting_on_a_durable_queue(queue: str, backend: str | None,
                                                                      blocking: bool) -> None:
    celery = _celery(backend or load_settings().broker.result_backend)
    message = _message(blocking)
    try:
        CeleryDispatcher(celery, (queue,)).publish(message)
        got = _taken(queue)
    finally:
        celery.close()
    headers = got.headers
    assert headers["task"] == names.INVOKE and headers["id"] == message.activation_id
    assert headers["shadow"] == "/guest/pkg/hello"
    assert headers["argsrepr"] == "()"
    assert message.activation_id in headers["kwargsrepr"] and SECRET not in headers["kwargsrepr"]
    assert headers["origin"].startswith("gen")
    assert got.properties["correlation_id"] == message.activation_id
    assert got.properties["delivery_mode"] == 2
    assert got.content_type == "application/json"
    args, kwargs, embed = _decoded(got)
    reply_to = kwargs.pop("reply_to")
    expected = message.to_dict()
    del expected["reply_to"]
    assert args == [] and kwargs == expected and embed["callbacks"] is None
    if backend is None:
        # Nobody waits through Celery: a blocking caller waits on this process's reply channel (tasks.results).
        assert headers["ignore_result"] is True
        assert (reply_to is not None and reply_to.startswith(REPLY_CHANNEL_PREFIX)) is blocking
    with Connection(load_settings().broker.url) as connection:  # declared as Celery declares it: durable
        bound = connection.default_channel
        bound.queue_declare(queue, durable=True, auto_delete=False)  # PRECONDITION_FAILED otherwise


def _decoded(message: Any) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    from kombu.serialization import loads

    body = loads(message.body, message.content_type, message.content_encoding)
    return body[0], body[1], body[2]


def test_the_queue_is_declared_again_on_a_new_connection_after_the_broker_lost_it(queue: str) -> None:
    """The dispatcher binds each queue once per channel; kombu's check of the declaration still runs in every
    publish, so a queue deleted while the connection was down is created again by the next publish on the new
    one, and its message is kept for the invoker."""
    import socket

    celery = _celery(load_settings().broker.result_backend)
    dispatcher = CeleryDispatcher(celery, (queue,))
    try:
        dispatcher.publish(_message(blocking=False))
        first = _taken(queue)
        dispatcher.publish(_message(blocking=False))
        assert _taken(queue).headers["id"] != first.headers["id"]  # the second publish, on the bound queue
        with celery.producer_or_acquire() as producer:
            channel = producer.channel
            producer.connection.connection.sock.shutdown(socket.SHUT_RDWR)  # the broker connection drops
        with Connection(load_settings().broker.url) as connection:
            connection.default_channel.queue_delete(queue)  # and the broker lost the queue
        message = _message(blocking=False)
        dispatcher.publish(message)  # kombu's retry: out on a new connection, the queue declared there
        assert _taken(queue).headers["id"] == message.activation_id
        dispatcher.publish(_message(blocking=False))
        _taken(queue)
        with celery.producer_or_acquire() as producer:
            assert producer.channel is not channel
            assert list(dispatcher._bound) == [producer.channel]  # the closed channel's binding let go
    finally:
        celery.close()


def test_each_channel_declares_through_its_own_binding_of_the_queue(queue: str) -> None:
    """Threads publish on different channels at once: a queue bound to one channel must never be used (and
    declared) through another."""
    celery = _celery(load_settings().broker.result_backend)
    dispatcher = CeleryDispatcher(celery, (queue,))
    try:
        with Connection(load_settings().broker.url) as connection:
            one, two = connection.channel(), connection.channel()
            on_one = dispatcher._bound_queue(one, queue)
            assert on_one.channel is one and on_one.name == queue and on_one.durable
            assert dispatcher._bound_queue(one, queue) is on_one
            on_two = dispatcher._bound_queue(two, queue)
            assert on_two is not on_one and on_two.channel is two
            assert dispatcher._bound_queue(one, "other-" + queue).name == "other-" + queue
    finally:
        celery.close()
