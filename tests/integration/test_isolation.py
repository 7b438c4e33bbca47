"""Action containers against the network: the services out of reach, the API host in reach.

On this machine CouchDB, RabbitMQ and Redis listen on 127.0.0.1, which a container cannot reach anyway.
To test the rules and not that accident, the test exposes each real service on the action bridge's
gateway address (a plain TCP relay in this process), as a host whose services listen on every address
would; the controller's API host is a small HTTP server on the same address. An action then talks each
service's own protocol to it: first without the rules (every service answers: the test can fail), then
with them installed (only the API host answers), then with them removed again.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import secrets
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.core.entities import Status
from tests.integration.docker_harness import Harness, docker_client, make_settings
from workers.factories.docker import DockerContainerFactory
from workers.startup import isolation_for

pytestmark = pytest.mark.integration
__all__ = ["docker_client"]  # a fixture, used by name

PROBE = r"""
import socket
def talk(host, port, hello, expect):
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(hello.encode("latin-1"))
            s.settimeout(2)
            data = ""
            while expect not in data and len(data) < 4096:
                chunk = s.recv(4096).decode("latin-1")
                if not chunk:
                    break
                data += chunk
        return "answered" if expect in data else "unexpected: " + data[:40]
    except OSError as e:
        return "unreachable: " + type(e).__name__
def main(args):
    return {name: talk(*target) for name, target in args["targets"].items()}
"""


class _Relay(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.target = target
        super().__init__(listen, _RelayHandler)


class _RelayHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server: _Relay = self.server  # type: ignore[assignment]
        with socket.create_connection(server.target, timeout=5) as upstream:
            pump = threading.Thread(target=_pipe, args=(upstream, self.request), daemon=True)
            pump.start()
            _pipe(self.request, upstream)
            pump.join(5)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


class _Pong(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"pong"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(server: socketserver.BaseServer) -> socketserver.BaseServer:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def isolated(docker_client, couchdb_url) -> Iterator[dict[str, Any]]:
    network = f"squall-iso-{secrets.token_hex(3)}"
    base = make_settings(network=network)
    factory = DockerContainerFactory(base.invoker, base.controller.api_host)
    factory.bridge()  # creates the network
    gateway = factory._api().inspect_network(network)["IPAM"]["Config"][0]["Gateway"]
    couch = urlsplit(couchdb_url)
    servers = [_serve(_Relay((gateway, 0), ("127.0.0.1", port)))
               for port in (couch.port or 5984, 5672, 6379)]
    api = _serve(http.server.ThreadingHTTPServer((gateway, 0), _Pong))
    ports = [s.server_address[1] for s in (*servers, api)]  # type: ignore[attr-defined]
    settings = base.replace(
        couchdb={"url": f"http://{gateway}:{ports[0]}"},
        broker={"url": f"amqp://guest:guest@{gateway}:{ports[1]}//", "result_backend": f"redis://{gateway}:{ports[2]}/0"},
        invoker={"api_host": f"http://{gateway}:{ports[3]}"})
    harness = Harness(settings, factory)
    isolation = isolation_for(settings, factory)
    targets = {
        "couchdb": [gateway, ports[0], "GET / HTTP/1.0\r\n\r\n", "200 OK"],
        "rabbitmq": [gateway, ports[1], "AMQP\x00\x00\x09\x01", "\x01\x00\x00"],  # Connection.Start frame
        "redis": [gateway, ports[2], "PING\r\n", "+PONG"],
        "api": [gateway, ports[3], "GET /ping HTTP/1.0\r\n\r\n", "pong"],
    }
    try:
        yield {"harness": harness, "isolation": isolation, "targets": targets, "settings": settings}
    finally:
        isolation.remove()
        harness.close()
        for server in (*servers, api):
            server.shutdown()
            server.server_close()
        factory2 = DockerContainerFactory(settings.invoker, settings.controller.api_host)
        try:
            factory2._api().remove_network(network)
        finally:
            factory2.close()


def _probe(harness: Harness, targets: dict[str, list[Any]], name: str) -> dict[str, str]:
    action = harness.action(PROBE, name=name, timeout_ms=30_000)
    activation = harness.invoke(harness.message(action, {"targets": targets}))
    assert activation.status == Status.SUCCESS, activation.result
    return activation.result  # type: ignore[no-any-return]


def test_actions_reach_the_api_host_but_not_the_services(isolated):
    harness, isolation, targets = isolated["harness"], isolated["isolation"], isolated["targets"]

    before = _probe(harness, targets, "open")
    assert before == dict.fromkeys(targets, "answered"), "without the rules every service answers"

    isolation.install()
    isolation.install()  # idempotent: a restarted invoker installs again
    rules = _chain_rules(isolation.plan.input_chain)
    assert len(rules) == 1 + 3  # the chain, then: established, the API host, drop
    hooks = subprocess.run(["iptables", "-w", "-S", "INPUT"], capture_output=True, text=True, check=True).stdout
    assert hooks.count(f"-j {isolation.plan.input_chain}") == 1

    after = _probe(harness, targets, "closed")
    assert after["api"] == "answered"
    for service in ("couchdb", "rabbitmq", "redis"):
        assert after[service].startswith("unreachable"), (service, after[service])

    isolation.remove()
    assert _chain_rules(isolation.plan.input_chain) == []
    assert _probe(harness, targets, "reopened") == dict.fromkeys(targets, "answered")


def test_action_containers_cannot_reach_each_other(isolated):
    harness = isolated["harness"]
    code = "import socket\ndef main(args):\n    return {'ip': socket.gethostbyname(socket.gethostname())}\n"
    who = harness.action(code, name="target")
    other_ip = harness.invoke(harness.message(who)).result["ip"]
    result = _probe(harness, {"peer": [other_ip, 8080, "GET / HTTP/1.0\r\n\r\n", "HTTP"]}, "prober")
    assert result["peer"].startswith("unreachable")  # inter-container traffic is off on the action network


def test_squall_isolate_command_installs_shows_and_removes(docker_client):
    network = f"squall-iso-{secrets.token_hex(3)}"
    env = {**os.environ, "SQUALL_INVOKER_NETWORK": network, "SQUALL_INVOKER_API_HOST": "http://10.9.8.7:3233",
           "SQUALL_COUCHDB_URL": "http://10.9.8.6:5984"}
    squall = str(Path(sys.executable).with_name("squall"))

    def run(*args: str) -> str:
        done = subprocess.run([squall, "isolate", *args], env=env, capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    try:
        shown = run("--show")
        assert "-d 10.9.8.7 --dport 3233 -j ACCEPT" in shown  # the API host, into the host
        assert "-d 10.9.8.6 --dport 5984 -j DROP" in shown  # a CouchDB on another host
        chain = next(line.split()[2] for line in shown.splitlines() if line.endswith("-j DROP") and "-IN" in line)
        assert _chain_rules(chain) == []  # --show touches nothing
        run()
        run()
        assert len(_chain_rules(chain)) == 1 + 3
        run("--remove")
        assert _chain_rules(chain) == []
    finally:
        subprocess.run([squall, "isolate", "--remove"], env=env, capture_output=True, timeout=60, check=False)
        docker_client.networks.get(network).remove()


def _chain_rules(chain: str) -> list[str]:
    done = subprocess.run(["iptables", "-w", "-S", chain], capture_output=True, text=True, check=False)
    return done.stdout.splitlines() if done.returncode == 0 else []
