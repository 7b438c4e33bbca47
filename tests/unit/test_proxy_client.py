"""The proxy client against small real HTTP servers on loopback."""

from __future__ import annotations

import json
import select
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.core.errors import ActionTimeout
from tests.conftest import free_port
from workers.proxy_client import ContainerDied, ProxyClient, ProxyResponse

pytestmark = pytest.mark.unit

Handler = Callable[[BaseHTTPRequestHandler, dict], None]


class Server:
    def __init__(self, handle: Handler, port: int = 0) -> None:
        self.requests: list[tuple[str, dict]] = []
        self.connections: set[tuple[str, int]] = set()
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((self.path, body))
                outer.connections.add(self.client_address)
                handle(self, body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def reply(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(handle: Handler, port: int = 0) -> Server:
        server = Server(handle, port)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def client_for() -> Iterator[Callable[[int], ProxyClient]]:
    clients: list[ProxyClient] = []

    def make(port: int) -> ProxyClient:
        client = ProxyClient("127.0.0.1", port)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def echo(handler: BaseHTTPRequestHandler, body: dict) -> None:
    reply(handler, 200, json.dumps(body.get("value")).encode())


def test_init_then_runs_reuse_one_connection_with_nodelay(serve, client_for):
    server = serve(echo)
    client = client_for(server.port)
    assert client.init({"value": {"ok": True}}, 5).body == {"ok": True}
    for i in range(3):
        response = client.run({"value": {"i": i}}, 5)
        assert (response.status, response.body, response.is_json) == (200, {"i": i}, True)
    assert [path for path, _ in server.requests] == ["/init", "/run", "/run", "/run"]
    assert len(server.connections) == 1
    assert client._conn is not None and client._conn.sock is not None
    assert client._conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_non_json_body_comes_back_as_text(serve, client_for):
    server = serve(lambda h, _b: reply(h, 502, b"Bad gateway, not JSON"))
    response = client_for(server.port).run({"value": {}}, 5)
    assert response.status == 502
    assert not response.is_json
    assert response.body == response.text == "Bad gateway, not JSON"
    assert response.size == len(b"Bad gateway, not JSON")


def test_a_json_string_is_json(serve, client_for):
    server = serve(lambda h, _b: reply(h, 200, b'"just a string"'))
    response = client_for(server.port).run({"value": {}}, 5)
    assert response.is_json and response.body == "just a string"


def test_init_retries_refused_connections_until_the_proxy_listens(serve, client_for):
    port = free_port()
    client = client_for(port)
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(client.init({"value": {"a": 1}}, 10)))
    worker.start()
    server = serve(echo, port)  # starts listening while init is already retrying
    worker.join(10)
    assert not worker.is_alive()
    assert result[0].body == {"a": 1}  # type: ignore[attr-defined]
    assert server.requests[0][0] == "/init"


def test_init_gives_up_at_its_deadline(client_for):
    client = client_for(free_port())
    with pytest.raises(ActionTimeout) as info:
        client.init({"value": {}}, 0.2)
    assert info.value.message == "The action exceeded its time limits of 200 milliseconds during initialization."


def test_run_is_not_retried_when_refused(client_for):
    with pytest.raises(ContainerDied) as info:
        client_for(free_port()).run({"value": {}}, 5)
    assert info.value.message == "The action did not produce a valid response and exited unexpectedly."


def test_slow_run_times_out(serve, client_for):
    release = threading.Event()

    def slow(handler: BaseHTTPRequestHandler, _body: dict) -> None:
        release.wait(5)

    server = serve(slow)
    client = client_for(server.port)
    try:
        with pytest.raises(ActionTimeout) as info:
            client.run({"value": {}}, 0.2)
        assert info.value.message == "The action exceeded its time limits of 200 milliseconds."
    finally:
        release.set()


def test_connection_closed_mid_request_means_the_container_died(serve, client_for):
    def die(handler: BaseHTTPRequestHandler, _body: dict) -> None:
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)

    server = serve(die)
    with pytest.raises(ContainerDied) as info:
        client_for(server.port).init({"value": {}}, 5)
    assert info.value.message == "The action did not initialize and exited unexpectedly."
    with pytest.raises(ContainerDied):
        client_for(server.port).run({"value": {}}, 5)


def test_an_idle_connection_the_proxy_closed_is_replaced(serve, client_for):
    def once(handler: BaseHTTPRequestHandler, body: dict) -> None:
        echo(handler, body)
        handler.close_connection = True  # close after answering, without saying so in the headers

    server = serve(once)
    client = client_for(server.port)
    assert client.run({"value": {"n": 1}}, 5).body == {"n": 1}
    assert client._conn is not None and client._conn.sock is not None
    readable, _, _ = select.select([client._conn.sock], [], [], 5)  # until the proxy has closed it
    assert readable
    assert client.run({"value": {"n": 2}}, 5).body == {"n": 2}
    assert len(server.connections) == 2


LINES = b'{"chunks":[["2024-05-01T12:00:00.1Z","stdout","hi"]],"truncated":false,"complete":true}'


@pytest.mark.parametrize("length", [None, "", "-1", "abc", "1e3", str(len(LINES) + 100)])
def test_a_logs_length_that_does_not_fit_the_body_is_not_believed(length):
    response = ProxyResponse.parse(200, LINES + b'{"ok":true}', length)
    assert response.logs is None
    assert response.raw == LINES + b'{"ok":true}'  # the whole body is the result, as any image's


def test_the_lines_ahead_of_the_result_are_split_off():
    response = ProxyResponse.parse(200, LINES + b'{"ok":true}', str(len(LINES)))
    assert (response.body, response.raw, response.size) == ({"ok": True}, b'{"ok":true}', 11)
    assert response.logs is not None and [entry.text for entry in response.logs.lines] == ["hi"]


def test_lines_that_are_not_the_proxys_shape_leave_the_result_alone():
    response = ProxyResponse.parse(200, b"garbage" + b'{"ok":true}', "7")
    assert (response.logs, response.body) == (None, {"ok": True})
