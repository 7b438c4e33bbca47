"""The process containers' one way out of their network namespace: a Unix socket relayed to the API host.

A process container has a loopback interface and nothing else (``workers.factories.sandbox``). Its proxy
listens on ``127.0.0.1:<port>`` inside and forwards each connection to this relay's Unix socket (which the
container reaches through the filesystem, not the network); the relay connects it to the API host's TCP port
and copies bytes both ways. Nothing else is reachable through it: the target is fixed, and what is sent is
the action's own HTTP, checked by the API like any client's.

Bounded so that one container cannot starve the others: at most ``PER_PEER`` connections per user id (each
container has its own when the invoker is root; the kernel tells us the peer's, ``SO_PEERCRED``), ``TOTAL`` in
all, and a connection silent for ``IDLE_S`` is closed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

PER_PEER = 16
TOTAL = 256
IDLE_S = 300.0
CONNECT_S = 5.0
CHUNK = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


def target_of(api_host: str) -> tuple[str, int] | None:
    """``(host, port)`` of an API host URL, or None when it names none."""
    parts = urlsplit(api_host)
    if not parts.hostname:
        return None
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    return (parts.hostname, port) if port else None


class ApiRelay:
    """Serves ``path`` (mode 0666: containers run as their own users) and relays to ``target``."""

    def __init__(self, path: Path, target: tuple[str, int]) -> None:
        self.path = path
        self.target = target
        self._listener: socket.socket | None = None
        self._inode = 0
        self._peers: Counter[int] = Counter()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # one an earlier run left
        listener.bind(str(self.path))
        self._inode = self.path.stat().st_ino
        os.chmod(self.path, 0o666)  # noqa: S103 - containers run as users of their own; the target is fixed
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, name="api-relay", daemon=True).start()
        log.info("API relay for process containers: %s -> %s:%d", self.path, *self.target)

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
            with contextlib.suppress(FileNotFoundError):
                if self.path.stat().st_ino == self._inode:  # not the socket of a restarted invoker bound since
                    self.path.unlink()

    def _accept(self) -> None:
        while (listener := self._listener) is not None:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            peer = _peer_uid(client)
            with self._lock:
                admitted = self._peers[peer] < PER_PEER and sum(self._peers.values()) < TOTAL
                if admitted:
                    self._peers[peer] += 1
            if not admitted:
                log.warning("API relay: refused a connection from uid %d (too many open)", peer)
                client.close()
                continue
            threading.Thread(target=self._serve, args=(client, peer), name="api-relay-conn", daemon=True).start()

    def _serve(self, client: socket.socket, peer: int) -> None:
        try:
            try:
                upstream = socket.create_connection(self.target, timeout=CONNECT_S)
            except OSError as e:
                log.warning("API relay: cannot reach the API host %s:%d: %s", *self.target, e)
                return
            with upstream:
                for sock in (client, upstream):
                    sock.settimeout(IDLE_S)
                back = threading.Thread(target=_pump, args=(upstream, client), name="api-relay-back", daemon=True)
                back.start()
                _pump(client, upstream)
                back.join()
        finally:
            client.close()
            with self._lock:
                self._peers[peer] -= 1
                if self._peers[peer] <= 0:
                    del self._peers[peer]


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy until end of stream, then half-close the sink (HTTP clients may still be reading the reply)."""
    try:
        while data := source.recv(CHUNK):
            sink.sendall(data)
    except OSError:
        pass  # reset, timed out or closed by the other direction
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def _peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)
