"""The broker socket's chunked reads (``tasks.amqp_transport``): ``chunked_recv`` against a scripted ``recv``, and
the event-loop reader against a scripted connection. The transport on the real RabbitMQ, Celery's event loop
included, is tests/integration/test_amqp_transport.py."""

from __future__ import annotations

import errno
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from amqp.exceptions import RecoverableConnectionError

from config import load_settings
from tasks import amqp_transport
from tasks.amqp_transport import ChunkedTCPTransport, Transport, chunked_recv
from tasks.celery_app import CHUNKED_TRANSPORT, make_celery

pytestmark = pytest.mark.unit


class Socket:
    """``recv`` handing out the scripted reads in turn: bytes, or an exception to raise. Records what was asked."""

    def __init__(self, *reads: bytes | BaseException) -> None:
        self.reads = list(reads)
        self.asked: list[int] = []

    def recv(self, n: int) -> bytes:
        self.asked.append(n)
        read = self.reads.pop(0)
        if isinstance(read, BaseException):
            raise read
        assert len(read) <= n  # a real recv never returns more than asked
        return read


def test_one_recv_serves_every_piece_it_read() -> None:
    sock = Socket(b"headerPAYLOAD!" + b"next")
    read = chunked_recv(sock.recv, chunk=64)
    assert [read(6), read(7), read(1), read(4)] == [b"header", b"PAYLOAD", b"!", b"next"]
    assert sock.asked == [64]


def test_a_short_chunk_gives_what_it_holds_and_the_next_read_goes_to_the_socket() -> None:
    # py-amqp asks again for what is missing, as it does after a short recv
    sock = Socket(b"abc", b"defgh")
    read = chunked_recv(sock.recv, chunk=64)
    assert read(2) == b"ab"
    assert read(5) == b"c"
    assert read(5) == b"defgh"
    assert sock.asked == [64, 64]


def test_a_read_larger_than_the_chunk_asks_for_all_of_it_and_holds_nothing_back() -> None:
    big = bytes(range(256)) * 4
    sock = Socket(big, b"tail")
    read = chunked_recv(sock.recv, chunk=16)
    assert read(len(big)) == big
    assert read(4) == b"tail"
    assert sock.asked == [len(big), 16]


def test_the_end_of_the_connection_reads_as_empty() -> None:
    read = chunked_recv(Socket(b"ab", b"").recv, chunk=8)
    assert read(2) == b"ab"
    assert read(1) == b""


def test_a_read_that_would_block_raises_as_the_socket_does_and_loses_nothing() -> None:
    sock = Socket(b"abcd", BlockingIOError(errno.EAGAIN, "again"), TimeoutError("timed out"), b"ef")
    read = chunked_recv(sock.recv, chunk=8)
    assert read(3) == b"abc"
    assert read(3) == b"d"  # what it holds first: the socket is not asked while bytes are held
    with pytest.raises(BlockingIOError):
        read(2)
    with pytest.raises(TimeoutError):
        read(2)
    assert read(2) == b"ef"
    assert sock.asked == [8, 8, 8, 8]


class Loop:
    def __init__(self) -> None:
        self.soon: list[tuple[Callable[..., None], tuple[Any, ...]]] = []

    def call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        self.soon.append((callback, args))


class Connection:
    """``drain_events`` taking one scripted outcome per call: None for a message read, or an exception."""

    def __init__(self, *outcomes: BaseException | None, connected: bool = True) -> None:
        self.outcomes = list(outcomes)
        self.connected = connected
        self.timeouts: list[float | None] = []

    def drain_events(self, timeout: float | None = None) -> None:
        self.timeouts.append(timeout)
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome


def _transport() -> Transport:
    return Transport.__new__(Transport)  # on_readable uses nothing of the instance but itself


def test_the_loops_reader_reads_every_message_until_a_read_would_block() -> None:
    connection, loop = Connection(None, None, None, TimeoutError()), Loop()
    _transport().on_readable(connection, loop)
    assert connection.timeouts == [0, 0, 0, 0]  # never waits
    assert connection.outcomes == []
    assert loop.soon == []  # nothing left that poll could not see


@pytest.mark.parametrize("code", [errno.EAGAIN, errno.EINTR])
def test_a_socket_error_that_means_later_ends_the_turn(code: int) -> None:
    connection = Connection(None, OSError(code, "later"))
    _transport().on_readable(connection, Loop())
    assert connection.outcomes == []


def test_any_other_socket_error_reaches_the_event_loop() -> None:
    connection = Connection(None, OSError(errno.ECONNRESET, "reset"))
    with pytest.raises(ConnectionResetError):
        _transport().on_readable(connection, Loop())


def test_a_closed_connection_is_a_recoverable_error() -> None:
    with pytest.raises(RecoverableConnectionError):
        _transport().on_readable(Connection(connected=False), Loop())


def test_a_turn_that_reaches_its_bound_lets_the_timers_run_and_reads_on_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(amqp_transport, "MAX_MESSAGES_PER_TURN", 3)
    transport, connection, loop = _transport(), Connection(None, None, None, None, TimeoutError()), Loop()
    transport.on_readable(connection, loop)
    assert len(connection.timeouts) == 3
    assert loop.soon == [(transport.on_readable, (connection, loop))]
    callback, args = loop.soon.pop()
    callback(*args)
    assert connection.outcomes == [] and loop.soon == []


class CountingSocket(socket.socket):
    """A real socket that counts how often it is switched between blocking and not."""

    switches = 0

    def settimeout(self, value: float | None) -> None:
        self.switches += 1
        super().settimeout(value)


@pytest.fixture
def wired() -> Iterator[tuple[ChunkedTCPTransport, socket.socket]]:
    """A ``ChunkedTCPTransport`` on one end of a local socket pair, as py-amqp leaves it once connected (blocking),
    and the other end to write its frames."""
    ours, theirs = socket.socketpair()
    sock = CountingSocket(fileno=ours.detach())
    transport = ChunkedTCPTransport.__new__(ChunkedTCPTransport)
    transport.sock, transport.raise_on_initial_eintr, transport.connected = sock, True, True
    transport._setup_transport()
    yield transport, theirs
    sock.close()
    theirs.close()


def _frame(payload: bytes) -> bytes:
    return struct.pack(">BHI", 1, 0, len(payload)) + payload + b"\xce"


def test_a_read_that_must_not_wait_leaves_the_socket_blocking(wired: tuple[ChunkedTCPTransport, socket.socket]) -> None:
    transport, peer = wired
    with pytest.raises(TimeoutError), transport.having_timeout(0):
        transport.read_frame()  # nothing sent: py-amqp's timeout, at once
    peer.sendall(_frame(b"one") + _frame(b"two"))
    with transport.having_timeout(0):
        assert transport.read_frame() == (1, 0, b"one")
    with transport.having_timeout(0):
        assert transport.read_frame() == (1, 0, b"two")
    assert transport.sock.gettimeout() is None and transport.sock.switches == 0


def test_half_a_frame_waiting_is_kept_for_the_next_read(wired: tuple[ChunkedTCPTransport, socket.socket]) -> None:
    transport, peer = wired
    whole = _frame(b"payload")
    peer.sendall(whole[:3])
    with pytest.raises(TimeoutError), transport.having_timeout(0):
        transport.read_frame()  # the header is incomplete: a timeout, nothing consumed
    peer.sendall(whole[3:])
    with transport.having_timeout(0):
        assert transport.read_frame() == (1, 0, b"payload")


def test_after_a_read_that_must_not_wait_reads_wait_again(wired: tuple[ChunkedTCPTransport, socket.socket]) -> None:
    transport, peer = wired
    with pytest.raises(TimeoutError), transport.having_timeout(0):
        transport.read_frame()
    threading.Timer(0.2, peer.sendall, (_frame(b"late"),)).start()
    started = time.monotonic()
    assert transport.read_frame() == (1, 0, b"late")  # waited for it, as a blocking read does
    assert time.monotonic() - started >= 0.15


def test_other_timeouts_keep_py_amqps_own_switch(wired: tuple[ChunkedTCPTransport, socket.socket]) -> None:
    transport, _ = wired
    started = time.monotonic()
    with pytest.raises(TimeoutError), transport.having_timeout(0.1):
        transport.read_frame()
    assert time.monotonic() - started >= 0.09
    assert transport.sock.switches == 2 and transport.sock.gettimeout() is None


@pytest.mark.parametrize(("url", "chunked"), [
    ("amqp://guest:guest@127.0.0.1:5672//", True),
    ("pyamqp://guest:guest@127.0.0.1:5672//", True),
    ("amqps://guest:guest@127.0.0.1:5671//", False),  # TLS reads its own way
    ("redis://127.0.0.1:6379/0", False),
    ("memory://", False),
])
def test_only_plain_amqp_brokers_get_the_chunked_transport(url: str, chunked: bool) -> None:
    app = make_celery(load_settings(overrides={"broker": {"url": url}}))
    assert (app.conf.broker_transport == CHUNKED_TRANSPORT) is chunked
