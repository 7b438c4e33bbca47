"""The broker socket read in chunks (``tasks.amqp_transport``) on the real RabbitMQ: confirmed publishes and
deliveries of every size arrive whole and in order, and kombu's event loop, as Celery's worker runs it, reads every
message the socket holds in the turn it is woken for (not one a turn, the rest waiting for an unrelated wake-up).
The controller and the invoker use the transport in every other integration test; this holds its own edges."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.asynchronous import Hub

from config import load_settings
from tasks.amqp_transport import ChunkedTCPTransport, Transport

pytestmark = pytest.mark.integration


@pytest.fixture
def queue() -> Iterator[Queue]:
    found = Queue(f"test-chunked-{secrets.token_hex(4)}", Exchange(""), durable=False)
    yield found
    with Connection(load_settings().broker.url) as connection:
        connection.default_channel.queue_delete(found.name)


def _connection() -> Connection:
    connection = Connection(load_settings().broker.url, transport=Transport,
                            transport_options={"confirm_publish": True})
    connection.ensure_connection(max_retries=3)
    assert isinstance(connection.connection.transport, ChunkedTCPTransport)
    return connection


def _waiting(queue: Queue) -> int:
    with Connection(load_settings().broker.url) as connection:
        _, count, _ = connection.default_channel.queue_declare(queue.name, passive=True)
        return int(count)


class Received:
    def __init__(self) -> None:
        self.bodies: list[Any] = []

    def __call__(self, body: Any, message: Any) -> None:
        self.bodies.append(body)


def _consuming(connection: Connection, queue: Queue, hub: Hub, received: Received) -> Consumer:
    """A consumer on ``hub`` the way Celery's worker loop sets one up: the transport's reader on the socket."""
    consumer = Consumer(connection.default_channel, queues=[queue], callbacks=[received], no_ack=True,
                        accept=["json"])
    connection.transport.register_with_event_loop(connection.connection, hub)
    consumer.consume()
    return consumer


def test_messages_of_every_size_arrive_whole_and_in_order(queue: Queue) -> None:
    sizes = [0, 1, 6, 7, 8, 100, 4_000, 65_535, 65_536, 70_000, 1_500_000, 3, 2]
    bodies = [{"n": n, "text": secrets.token_hex(n // 2 + 1)[:n]} for n in sizes * 3]
    hub, received = Hub(), Received()
    with _connection() as publisher, _connection() as consumer_connection:
        producer = Producer(publisher.default_channel)
        queue(publisher.default_channel).declare()
        for body in bodies:  # each confirmed: the confirm is read through the chunk too
            producer.publish(body, routing_key=queue.name, serializer="json", retry=False)
        _consuming(consumer_connection, queue, hub, received)
        loop = hub.create_loop()
        for _ in range(200):
            if len(received.bodies) == len(bodies):
                break
            next(loop)
        hub.close()
    assert received.bodies == bodies


def test_the_event_loop_reads_everything_the_socket_holds_in_one_turn(queue: Queue) -> None:
    count = 300
    hub, received = Hub(), Received()
    with _connection() as publisher, _connection() as consumer_connection:
        producer = Producer(publisher.default_channel)
        queue(publisher.default_channel).declare()
        for i in range(count):
            producer.publish({"i": i}, routing_key=queue.name, serializer="json", retry=False)
        _consuming(consumer_connection, queue, hub, received)
        deadline = time.monotonic() + 30
        while _waiting(queue) and time.monotonic() < deadline:  # all of it sent our way, nothing read yet
            time.sleep(0.05)
        loop = hub.create_loop()
        turns = 0
        while len(received.bodies) < count and turns < 10:
            next(loop)  # each turn waits in poll for at most a second
            turns += 1
        hub.close()
    # kombu's own reader takes one message a turn; with the chunk holding the rest where poll cannot see it,
    # ten turns would have read about ten
    assert [body["i"] for body in received.bodies] == list(range(count))
