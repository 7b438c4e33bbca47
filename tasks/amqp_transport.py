"""kombu's py-amqp transport with the broker's socket read in chunks: ``make_celery`` names it for ``amqp://``
and ``pyamqp://`` brokers, in the controller (publish confirms) and the invoker (deliveries) alike.

Why: py-amqp reads exactly the bytes each step of a frame needs, so every frame costs three ``recv`` calls (its
header, its payload, its end octet) and a delivered task message, three frames, nine; and kombu's event loop
hands the worker one message per turn, with a ``poll`` between. With one ``recv`` of up to 64 KiB serving every
frame it holds, a Celery worker spent 9-20 % less CPU per task message, one at a time or draining a queue
(docs/benchmarks.md, "the broker's socket read in chunks"). The frames, their order and every acknowledgement are
unchanged: only how the bytes leave the kernel differs.

What the chunk changes, and how it is kept safe: bytes read ahead sit in this process, where ``poll`` cannot see
them, so an event loop that reads one message per wake-up would leave the rest waiting for the next unrelated
wake-up. ``Transport.on_readable`` therefore drains every message that can be read without blocking before it
returns. Blocking reads (a publish's confirm, the controller's declarations) look in the chunk before the socket,
so they need nothing more. Reads that must not wait ask ``recv`` not to, rather than switch the socket's mode
back and forth. TLS connections keep py-amqp's own transport.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import amqp.transport
from amqp.exceptions import RecoverableConnectionError
from kombu.transport import pyamqp

__all__ = ["CHUNK_BYTES", "MAX_MESSAGES_PER_TURN", "ChunkedTCPTransport", "Connection", "Transport",
           "chunked_recv"]

CHUNK_BYTES = 64 * 1024
"""The most one ``recv`` asks for (the kernel hands over what it holds, up to this)."""
MAX_MESSAGES_PER_TURN = 1000
"""How many messages one wake-up of the event loop reads at most before its timers get a turn (heartbeats):
far beyond any prefetch, so in practice a turn ends only when the socket and the chunk are empty."""

_WOULD_BLOCK = (errno.EAGAIN, errno.EINTR)


def chunked_recv(recv: Callable[[int], bytes], chunk: int = CHUNK_BYTES) -> Callable[[int], bytes]:
    """A stand-in for ``recv`` that reads up to ``chunk`` bytes at a time and hands them out as asked.

    Like ``recv`` it returns at most ``n`` bytes and at least one, or ``b""`` when the peer closed the
    connection, and it raises what ``recv`` raises (a timeout, ``EAGAIN``); bytes it read are never lost to an
    exception, since it reads only when it holds none.
    """
    held = b""
    at = 0

    def read(n: int) -> bytes:
        nonlocal held, at
        if at >= len(held):
            fresh = recv(n if n > chunk else chunk)
            if len(fresh) <= n:  # all of it is asked for (a large payload, or a frame that came alone)
                return fresh
            held, at = fresh, 0
        start = at
        at += n
        return held[start:at]

    return read


class ChunkedTCPTransport(amqp.transport.TCPTransport):  # type: ignore[misc]  # py-amqp is untyped
    """py-amqp's TCP transport, its reads served by ``chunked_recv`` (py-amqp's own frame parsing is unchanged:
    it takes its bytes through ``_quick_recv``, which this replaces once the socket is connected), and its reads
    that must not wait asked of the kernel as such (``having_timeout``)."""

    _dont_wait = False

    def _setup_transport(self) -> None:
        super()._setup_transport()
        recv = self.sock.recv

        def socket_recv(n: int) -> bytes:
            data: bytes = recv(n, socket.MSG_DONTWAIT) if self._dont_wait else recv(n)
            return data

        self._quick_recv = chunked_recv(socket_recv)

    @contextmanager
    def having_timeout(self, timeout: float | None) -> Iterator[Any]:
        """Reads inside may take at most ``timeout`` seconds. For 0 (the event loop's reads) on a blocking socket,
        each ``recv`` is asked not to wait (``MSG_DONTWAIT``) instead of py-amqp's switch of the whole socket to
        non-blocking and back: two ``ioctl`` calls around every read, 8 a task message (docs/benchmarks.md,
        "2026-12-08: two steps off the broker's path"). What a caller sees is py-amqp's: a read that would wait
        raises ``socket.timeout``."""
        if timeout != 0 or self.sock is None or self.sock.gettimeout() is not None:
            with super().having_timeout(timeout) as sock:
                yield sock
            return
        self._dont_wait = True
        try:
            yield self.sock
        except OSError as e:
            if e.errno == errno.EWOULDBLOCK:
                raise TimeoutError() from None  # socket.timeout is TimeoutError's alias
            raise
        finally:
            self._dont_wait = False


class Connection(pyamqp.Connection):
    """kombu's py-amqp connection over ``ChunkedTCPTransport`` (over TLS, py-amqp's own transport)."""

    def Transport(self, host: str, connect_timeout: float | None, ssl: Any = False,
                  read_timeout: float | None = None, write_timeout: float | None = None,
                  socket_settings: dict[int, int] | None = None, **kwargs: Any) -> Any:
        if ssl:
            return super().Transport(host, connect_timeout, ssl, read_timeout, write_timeout, socket_settings,
                                     **kwargs)
        return ChunkedTCPTransport(host, connect_timeout=connect_timeout, ssl=ssl, read_timeout=read_timeout,
                                   write_timeout=write_timeout, socket_settings=socket_settings, **kwargs)


class Transport(pyamqp.Transport):
    """kombu's py-amqp transport with ``Connection``, and an event-loop reader that drains what is readable."""

    Connection = Connection

    def on_readable(self, connection: Any, loop: Any) -> None:
        """Called by the event loop when the socket is readable: read every message that can be read now.

        kombu's own reader reads one message and schedules itself again, relying on ``poll`` to report bytes
        still unread; bytes already in the chunk are not reported, so reading stops here only when a read would
        block (the socket and the chunk are empty, or hold part of a frame), or after ``MAX_MESSAGES_PER_TURN``.
        """
        drain = connection.drain_events
        for _ in range(MAX_MESSAGES_PER_TURN):
            if not connection.connected:
                raise RecoverableConnectionError("Socket was disconnected")  # as kombu's own reader
            try:
                drain(timeout=0)
            except TimeoutError:  # socket.timeout (its alias): nothing more to read without waiting
                return
            except OSError as e:
                if e.errno in _WOULD_BLOCK:
                    return
                raise
        loop.call_soon(self.on_readable, connection, loop)  # timers first; the loop wakes again within a second

