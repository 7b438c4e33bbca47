"""The controller's gunicorn setup: the options a rolling restart needs, and its worker joining and leaving a
shared port. The worker runs in a thread of the test process over real sockets (no gunicorn master)."""

from __future__ import annotations

import contextlib
import http.client
import os
import selectors
import signal
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from app.controller.server import ControllerServer, graceful_timeout_s
from app.controller.worker import ControllerWorker, _queued
from config import load_settings

pytestmark = pytest.mark.unit

WAIT_S = 5.0


def _server(**controller: Any) -> ControllerServer:
    return ControllerServer(load_settings(environ={}, overrides={"controller": controller}))


def test_the_drain_outlasts_the_longest_blocking_wait() -> None:
    cfg = _server().cfg
    assert cfg.graceful_timeout == 70  # OpenWhisk's 60 s wait, then the 10 s margin
    assert cfg.graceful_timeout > load_settings(environ={}).controller.blocking_timeout_ms / 1000


@pytest.mark.parametrize(("blocking_ms", "margin_s", "expected"), [(15_000, 5.0, 20), (1_500, 0.2, 2), (60_000, 0, 60)])
def test_the_graceful_timeout_follows_the_blocking_wait(blocking_ms: int, margin_s: float, expected: int) -> None:
    server = _server(blocking_timeout_ms=blocking_ms, drain_margin_s=margin_s)
    assert graceful_timeout_s(load_settings(environ={}, overrides={"controller": {
        "blocking_timeout_ms": blocking_ms, "drain_margin_s": margin_s}}).controller) == expected
    assert server.cfg.graceful_timeout == expected
    assert server.cfg.timeout >= expected  # the heartbeat timeout never cuts a drain short


def test_workers_share_the_port_and_the_controller_worker_serves() -> None:
    cfg = _server(port=4000).cfg
    assert cfg.reuse_port is True
    assert cfg.worker_class is ControllerWorker
    assert cfg.address == [("127.0.0.1", 4000)]
    assert cfg.control_socket_disable is True  # one path per user: two controllers would fight over it
    assert ControllerServer(load_settings(environ={}), {"graceful_timeout": 3}).cfg.graceful_timeout == 3


def test_a_negative_margin_is_refused() -> None:
    from config import SettingsError

    with pytest.raises(SettingsError, match="controller.drain_margin_s"):
        load_settings(environ={"SQUALL_CONTROLLER_DRAIN_MARGIN_S": "-1"})


def test_queued_connections_are_taken_in_not_left_to_be_reset() -> None:
    with _listener() as listener:
        clients = [socket.create_connection(listener.getsockname()) for _ in range(3)]
        try:
            accepted = _queued(listener)  # on loopback the handshake is done when connect returns
            assert len(accepted) == 3
            for connection, _client, server in accepted:
                assert server == listener.getsockname()
                connection.close()
            assert _queued(listener) == []
        finally:
            for client in clients:
                client.close()


def test_a_new_worker_listens_only_once_its_application_is_loaded() -> None:
    with _listener() as listener:
        port = listener.getsockname()[1]
        early = socket.create_connection(("127.0.0.1", port))  # queued on the socket the arbiter bound
        worker = _worker([listener], port)
        try:
            worker.step_out()
            assert worker.sockets == [] and listener.fileno() == -1
            with pytest.raises(ConnectionRefusedError):  # nobody listens while the application loads
                socket.create_connection(("127.0.0.1", port)).close()
            assert len(worker._held) == 1  # the early one is kept, to be served once loaded

            worker.load_wsgi()
            assert [s.getsockname()[1] for s in worker.sockets] == [port]
            socket.create_connection(("127.0.0.1", port)).close()
        finally:
            early.close()
            for connection, _client, _server in worker._held:
                connection.close()
            for s in worker.sockets:
                s.close()
            worker.tmp.close()


def test_a_stopped_worker_leaves_the_port_at_once_and_finishes_what_it_serves() -> None:
    entered, release = threading.Event(), threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/slow":  # a blocking invoke waiting for its result
            entered.set()
            release.wait(WAIT_S)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    with _running(app) as (worker, port):
        kept = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_S)
        slow = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_S)
        try:
            first = _get(kept, "/fast")
            assert first[:2] == (200, "keep-alive")
            answer: list[tuple[int, str | None, bytes]] = []
            waiting = threading.Thread(target=lambda: answer.append(_get(slow, "/slow")))
            waiting.start()
            assert entered.wait(WAIT_S)

            worker.handle_exit(signal.SIGTERM, None)  # what the arbiter's SIGTERM does
            _eventually(worker.sockets[0].fileno, lambda fd: fd == -1)
            with pytest.raises(ConnectionRefusedError):  # new connections go to the group's other sockets
                socket.create_connection(("127.0.0.1", port)).close()

            assert _get(kept, "/fast") == (200, "close", b"ok")  # a kept-alive connection is told to go
            release.set()
            waiting.join(WAIT_S)
            assert answer == [(200, "close", b"ok")]  # the request in flight is answered, and ends its connection
        finally:
            release.set()
            kept.close()
            slow.close()


def _get(connection: http.client.HTTPConnection, path: str) -> tuple[int, str | None, bytes]:
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.getheader("Connection"), response.read()


def _listener() -> contextlib.closing[socket.socket]:
    return contextlib.closing(socket.create_server(("127.0.0.1", 0), reuse_port=True))


def _worker(sockets: list[socket.socket], port: int, app: Any = None) -> ControllerWorker:
    cfg = Config()
    for key, value in {"bind": f"127.0.0.1:{port}", "reuse_port": True, "threads": 4, "keepalive": 5,
                       "graceful_timeout": 10, "loglevel": "warning"}.items():
        cfg.set(key, value)

    class Loaded:  # what gunicorn's application object gives a worker: its WSGI callable
        def wsgi(self) -> Any:
            return app

    return ControllerWorker(1, os.getppid(), sockets, Loaded(), 30, cfg, Logger(cfg))


class _running:
    """A worker's main loop in a thread, as ``init_process`` would start it after loading ``app``."""

    def __init__(self, app: Any) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), reuse_port=True)
        self.port = self._listener.getsockname()[1]
        self.worker = _worker([self._listener], self.port, app)
        self._thread = threading.Thread(target=self.worker.run)

    def __enter__(self) -> tuple[ControllerWorker, int]:
        w = self.worker
        w.tpool = w.get_thread_pool()
        w.poller = selectors.DefaultSelector()
        w.method_queue.init()
        w.wsgi = w.app.wsgi()
        self._thread.start()
        return w, self.port

    def __exit__(self, *_: object) -> None:
        self.worker.handle_exit(signal.SIGTERM, None)
        self._thread.join(WAIT_S + 5)
        self._listener.close()
        self.worker.tmp.close()
        assert not self._thread.is_alive()


def _eventually(get: Any, holds: Any) -> Any:
    deadline = time.monotonic() + WAIT_S
    while True:
        value = get()
        if holds(value) or time.monotonic() > deadline:
            assert holds(value), value
            return value
        time.sleep(0.01)
