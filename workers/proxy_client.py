"""HTTP to one container's action proxy: ``POST /init`` and ``POST /run``
(https://github.com/apache/openwhisk/blob/master/docs/actions-new.md#action-interface).

Why ``http.client``: a keep-alive ``/run`` costs 0.1 ms against 0.8 ms through httpx (docs/dependencies.md).
One connection per container is enough because a container runs one activation at a time; TCP_NODELAY
stops Nagle from holding back the small request bodies. A ``host`` that is an absolute path is a Unix socket
(the process factory's proxies listen on one, which other local users cannot reach); the port is then unused.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import socket
import time
from dataclasses import dataclass
from typing import Any

from app.core import strict_json
from app.core.errors import ActionError, ActionTimeout
from workers.logs import InlineLogs, parse_inline

_RETRY_FIRST_S = 0.002
_RETRY_MAX_S = 0.05
# Squall's own proxies hand an activation's log lines back with its /run answer when asked
# (runtimes/python/actionproxy/capture.py, which names them too); other images ignore the request.
LOGS_HEADER = "X-Squall-Logs"
LOGS_LENGTH_HEADER = "X-Squall-Logs-Length"


class ContainerDied(ActionError):
    """The connection was reset or closed mid-request: the proxy (or its container) exited."""

    def __init__(self, during_init: bool = False) -> None:
        self.during_init = during_init
        super().__init__("The action did not initialize and exited unexpectedly." if during_init
                         else "The action did not produce a valid response and exited unexpectedly.")


@dataclass(frozen=True)
class ProxyResponse:
    status: int
    body: Any  # the parsed JSON, or the raw text when it is not (strict) JSON
    raw: bytes = b""
    logs: InlineLogs | None = None  # the activation's log lines, when the proxy sent them with the answer

    @classmethod
    def parse(cls, status: int, raw: bytes, logs_length: str | None = None) -> ProxyResponse:
        """``logs_length``: the proxy's ``LOGS_LENGTH_HEADER``; the body's first that many bytes are the log
        lines, the result follows. A length that does not fit the body is not believed: the whole body is the
        result, and the logs are read from the engine."""
        logs = None
        if logs_length is not None and logs_length.isdigit() and int(logs_length) <= len(raw):
            cut = int(logs_length)
            logs, raw = parse_inline(raw[:cut]), raw[cut:]
        return cls(status, _decode(raw), raw, logs)

    @property
    def is_json(self) -> bool:
        return not isinstance(self.body, _RawText)

    @property
    def size(self) -> int:
        return len(self.raw)

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", errors="replace")


class _RawText(str):
    """A body that did not parse as JSON (kept apart from a JSON string result)."""

    __slots__ = ()


class UnixHTTPConnection(http.client.HTTPConnection):
    """``http.client`` over a Unix socket: ``path`` instead of host and port."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            connect_unix(sock, self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def connect_unix(sock: socket.socket, path: str) -> None:
    """Connect to ``path``, also when it is longer than a socket address may be (108 bytes): through a
    descriptor of its folder."""
    if len(os.fsencode(path)) < 100:
        sock.connect(path)
        return
    folder = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY)
    try:
        sock.connect(f"/proc/self/fd/{folder}/{os.path.basename(path)}")
    finally:
        os.close(folder)


class ProxyClient:
    """Talks to ``host:port``, or to the Unix socket ``host`` when that is an absolute path; not thread-safe
    (one activation per container at a time)."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._conn: http.client.HTTPConnection | None = None

    def wait_ready(self, timeout_s: float) -> bool:
        """Connect, retrying refused connections for up to ``timeout_s`` while the proxy boots; the
        connection is kept for the next request. False if the proxy never accepted one."""
        deadline = time.monotonic() + timeout_s
        pause = _RETRY_FIRST_S
        while True:
            try:
                self._connect(deadline)
                return True
            except TimeoutError:
                return False
            except OSError:  # refused, reset, no route yet: the proxy or its network is still coming up
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                time.sleep(min(pause, remaining))  # a booting process gives no event to wait on
                pause = min(pause * 2, _RETRY_MAX_S)

    def connect(self, timeout_s: float) -> bool:
        """One attempt to connect, the connection kept for the next request; False if the proxy took none."""
        try:
            self._connect(time.monotonic() + timeout_s)
        except OSError:
            return False
        return True

    def init(self, payload: dict[str, Any], timeout_s: float) -> ProxyResponse:
        """``/init``, retrying refused connections until ``timeout_s``: the proxy may still be booting."""
        deadline = time.monotonic() + timeout_s
        if not self.wait_ready(timeout_s):
            raise ActionTimeout(round(timeout_s * 1000), during_init=True)
        return self._post("/init", payload, deadline, timeout_s, during_init=True)

    def run(self, payload: dict[str, Any], timeout_s: float, log_limit: int | None = None) -> ProxyResponse:
        """``/run`` once; never retried (the action may have started). ``log_limit``: ask for the activation's
        log lines (at most that many bytes of text) with the answer."""
        deadline = time.monotonic() + timeout_s
        try:
            self._connect(deadline)
        except TimeoutError:
            raise ActionTimeout(round(timeout_s * 1000)) from None
        except OSError as e:
            raise ContainerDied() from e
        return self._post("/run", payload, deadline, timeout_s, during_init=False, log_limit=log_limit)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- internals ------------------------------------------------------------------------------

    def _connect(self, deadline: float) -> None:
        if self._conn is not None and self._conn.sock is not None and not _peer_closed(self._conn.sock):
            return
        self.close()  # a kept-alive connection the proxy closed while idle: start afresh
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed before connecting")
        unix = self._host.startswith("/")
        conn = (UnixHTTPConnection(self._host, timeout=remaining) if unix
                else http.client.HTTPConnection(self._host, self._port, timeout=remaining))
        try:
            conn.connect()
        except BaseException:
            conn.close()
            raise
        assert conn.sock is not None
        if not unix:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._conn = conn

    def _post(self, path: str, payload: dict[str, Any], deadline: float, timeout_s: float,
              during_init: bool, log_limit: int | None = None) -> ProxyResponse:
        conn = self._conn
        assert conn is not None and conn.sock is not None
        body = _encode(payload)
        headers = {"Content-Type": "application/json"}
        if log_limit is not None:
            headers[LOGS_HEADER] = str(log_limit)
        try:
            conn.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            # The action may finish its body long after the headers; keep the one deadline.
            if conn.sock is not None:
                conn.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            raw = response.read()
            status = response.status
            logs_length = response.getheader(LOGS_LENGTH_HEADER) if log_limit is not None else None
        except TimeoutError as e:
            self.close()
            raise ActionTimeout(round(timeout_s * 1000), during_init=during_init) from e
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise ContainerDied(during_init) from e
        if response.will_close:
            self.close()
        return ProxyResponse.parse(status, raw, logs_length)


def _encode(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON. A lone surrogate, which UTF-8 cannot carry (in code or parameters stored before the
    API refused them), is sent as a ``\\u`` escape instead: the action's runtime then decides what it makes of
    it, rather than every invoke of that action failing here as a whisk internal error."""
    try:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        return json.dumps(payload, separators=(",", ":")).encode()


def _decode(raw: bytes) -> Any:
    """The body as strict JSON, else as text: a result with NaN, Infinity, a lone surrogate or too deep a nesting
    is not JSON (Python's runtime writes ``NaN`` for ``float("nan")``), so it is recorded as a developer error,
    and never reaches the caller, the record store or the next action as invalid JSON."""
    text = raw.decode("utf-8", errors="replace")
    try:
        return strict_json.loads(text)
    except ValueError:
        return _RawText(text)


def _peer_closed(sock: socket.socket) -> bool:
    """True if the idle socket is readable, i.e. the peer closed it (or sent junk we cannot use)."""
    poller = select.poll()  # not select(): that fails for descriptors above 1023
    poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))
