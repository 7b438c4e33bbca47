"""HTTP side of the proxy: POST /init and POST /run on port 8080, HTTP/1.1 keep-alive.

The invoker keeps one connection per container and sends many /run requests on it, so every reply
carries Content-Length and the connection stays open; Nagle is off so small replies leave at once.
With ``PROXY_SOCKET`` set, the proxy listens on that Unix socket instead (mode 0600, in a folder only the
invoker and the container's own user may enter), so other local users cannot reach it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Protocol

from actionproxy.actionloop import LoopRunner
from actionproxy.capture import LOGS_HEADER, LOGS_LENGTH_HEADER, OutputCapture
from actionproxy.config import ProxyConfig
from actionproxy.executable import ExecRunner
from actionproxy.relay import start_api_relay
from actionproxy.runner import ActionRunner, Reply


class Runner(Protocol):
    """What the HTTP side needs: ``ActionRunner`` (Python code), ``ExecRunner`` (an executable per activation)
    or ``LoopRunner`` (one executable kept running)."""

    capture: OutputCapture | None

    def init(self, raw: bytes) -> Reply: ...

    def run(self, raw: bytes, log_limit: int | None = None) -> Reply: ...

    def close(self) -> None: ...


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], runner: Runner) -> None:
        self.runner = runner
        super().__init__(address, ProxyHandler)


class UnixProxyServer(ProxyServer):
    """The same server on a Unix socket (``PROXY_SOCKET``)."""

    address_family = socket.AF_UNIX

    def __init__(self, path: str, runner: Runner) -> None:
        self.runner = runner
        ThreadingHTTPServer.__init__(self, path, UnixProxyHandler)  # type: ignore[arg-type]

    def server_bind(self) -> None:
        path = str(self.server_address)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # a socket an earlier proxy left
        old = os.umask(0o177)
        try:
            _bind_unix(self.socket, path)
        finally:
            os.umask(old)
        self.server_name, self.server_port = "localhost", 0


def _bind_unix(sock: socket.socket, path: str) -> None:
    """Bind ``path``, also when it is longer than a socket address may be: through the folder's descriptor."""
    if len(os.fsencode(path)) < 100:
        sock.bind(path)
        return
    folder = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY)
    try:
        sock.bind(f"/proc/self/fd/{folder}/{os.path.basename(path)}")
    finally:
        os.close(folder)


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "squall-actionproxy"
    disable_nagle_algorithm = True  # TCP_NODELAY on every accepted socket
    wbufsize = 1 << 16  # headers and body leave in one write when they fit
    server: ProxyServer

    def do_POST(self) -> None:
        runner = self.server.runner
        route = {"/init": runner.init, "/run": self._run}.get(self.path.split("?", 1)[0])
        try:
            body = self._body()
        except ValueError as exc:
            self._reply(Reply.error(400, f"Cannot read the request body: {exc}"))
            self.close_connection = True
            return
        if route is None:
            self._reply(Reply.error(404, f"No such endpoint: {self.path}"))
            return
        try:
            reply = route(body)
        except Exception as exc:  # a proxy bug must still answer, or the invoker waits for its timeout
            traceback.print_exc()
            reply = Reply.error(500, f"The action proxy failed: {exc}")
        self._reply(reply)

    def _run(self, body: bytes) -> Reply:
        limit = self.headers.get(LOGS_HEADER)
        return self.server.runner.run(body, int(limit) if limit and limit.isdigit() else None)

    def do_GET(self) -> None:
        self._reply(Reply.error(404, f"No such endpoint: {self.path}"))

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if len(body) != length:
            raise ValueError("the connection closed before the whole body arrived")
        return body

    def _chunked_body(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _reply(self, reply: Reply) -> None:
        logs = reply.logs or ()
        logs_length = sum(len(part) for part in logs)
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(logs_length + len(reply.body)))
        if reply.logs is not None:
            self.send_header(LOGS_LENGTH_HEADER, str(logs_length))
        self.end_headers()
        for part in logs:  # apart: joining a flood's lines to the result would copy them once more
            self.wfile.write(part)
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # access-log lines on stderr would be read as the action's logs


class UnixProxyHandler(ProxyHandler):
    disable_nagle_algorithm = False  # no TCP on a Unix socket
    server: ProxyServer

    def address_string(self) -> str:
        return "local"


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)  # docker stop sends SIGTERM; a PID 1 without a handler would ignore it


def main() -> None:
    config = ProxyConfig.from_env(os.environ)
    runners: dict[str, Callable[[ProxyConfig], Runner]] = {
        "exec": ExecRunner, "loop": LoopRunner, "python": ActionRunner}
    capture = OutputCapture()
    capture.install()  # before any child starts: they inherit the pipes
    runner = runners[config.runner](config)
    runner.capture = capture
    server = (UnixProxyServer(config.socket, runner) if config.socket
              else ProxyServer((config.host, config.port), runner))
    signal.signal(signal.SIGTERM, _stop)
    if config.api_relay:
        start_api_relay(config.api_relay, config.api_relay_port)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        runner.close()
        sys.stdout.flush()
