"""A light keep-alive HTTP client for load: ``http.client``, one connection per thread.

Why not httpx: the load is generated on the same two cores it measures, and a keep-alive
``http.client`` request costs about a tenth of an httpx one (0.1 against 0.8 ms; docs/dependencies.md).
"""

from __future__ import annotations

import base64
import http.client
import json
import select
import socket
import time
from typing import Any
from urllib.parse import urlencode, urlsplit


class ApiError(RuntimeError):
    def __init__(self, status: int, body: bytes, what: str) -> None:
        super().__init__(f"{what}: HTTP {status} {body[:300]!r}")
        self.status = status


class ApiClient:
    """One connection to the controller; not thread-safe (make one per thread)."""

    def __init__(self, url: str, auth: str, timeout_s: float = 90.0) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._timeout_s = timeout_s
        token = base64.b64encode(auth.encode()).decode()
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:  # anonymous for web actions, which need no credentials
            self._headers["Authorization"] = f"Basic {token}"
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None, **query: str) -> tuple[int, bytes]:
        """(status, body) of one request; reconnects when the server closed the idle connection."""
        target = f"{path}?{urlencode(query)}" if query else path
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        conn = self._connection()
        try:
            conn.request(method, target, data, self._headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.will_close:
            self.close()
        return response.status, raw

    def json(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,),
             **query: str) -> Any:
        status, raw = self.request(method, path, body, **query)
        if status not in expect:
            raise ApiError(status, raw, f"{method} {path}")
        return json.loads(raw) if raw else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is not None and self._conn.sock is not None and not _peer_closed(self._conn.sock):
            return self._conn
        self.close()
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self._timeout_s)
        conn.connect()
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._conn = conn
        return conn


def _peer_closed(sock: socket.socket) -> bool:
    """An idle keep-alive socket that is readable was closed by the server (gunicorn's keepalive)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def timed(client: ApiClient, method: str, path: str, body: Any = None, **query: str) -> tuple[int, bytes, float]:
    """(status, body, milliseconds) of one request."""
    start = time.perf_counter()
    status, raw = client.request(method, path, body, **query)
    return status, raw, (time.perf_counter() - start) * 1000
