"""Fixtures for the runtime-protocol contract: fresh proxies of a runtime, each in a container of the Docker
image and as a local sandboxed process (the ``process`` factory), so one suite holds both to the protocol."""

from __future__ import annotations

import http.client
import json
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.models.containers import Container

from config.settings import InvokerSettings
from workers.factories.base import ContainerSpec
from workers.factories.process import LocalProcessFactory, ProcessContainer
from workers.images import build_runtime_images

RUNTIMES_DIR = Path(__file__).resolve().parents[2] / "runtimes"
SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
PROXY_PORT = 8080
READY_DEADLINE_S = 30.0
LOGS_DEADLINE_S = 10.0


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class RuntimeClient:
    """One proxy (a container or a process) and one keep-alive HTTP connection to it."""

    read_logs: Callable[[], tuple[str, str]]  # the proxy's stdout and stderr so far
    ip: str
    port: int = PROXY_PORT
    connection: http.client.HTTPConnection = field(init=False)

    def __post_init__(self) -> None:
        self.connection = http.client.HTTPConnection(self.ip, self.port, timeout=60)

    def post(self, path: str, payload: object) -> Response:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        reply = self.connection.getresponse()
        raw = reply.read()
        return Response(reply.status, json.loads(raw.decode("utf-8")), dict(reply.getheaders()))

    def init(
        self, code: str | None, main: str = "main", env: dict[str, Any] | None = None, binary: bool = False
    ) -> Response:
        value: dict[str, Any] = {"name": "action", "main": main, "binary": binary, "env": env or {}}
        if code is not None:
            value["code"] = code
        return self.post("/init", {"value": value})

    def run(self, value: Any = None, **meta: str) -> Response:
        body: dict[str, Any] = {
            "value": {} if value is None else value,
            "namespace": "guest",
            "action_name": "/guest/action",
            "action_version": "0.0.1",
            "activation_id": "0123456789abcdef0123456789abcdef",
            "transaction_id": "tid-1",
            "deadline": str(int(time.time() * 1000) + 60_000),
        }
        body.update(meta)
        return self.post("/run", body)

    def logs(self) -> tuple[str, str]:
        return self.read_logs()

    def logs_with_sentinels(self, count: int) -> tuple[list[str], list[str]]:
        """Lines of stdout and stderr once each holds ``count`` sentinels (docker copies logs async)."""
        deadline = time.monotonic() + LOGS_DEADLINE_S
        while True:
            out, err = self.logs()
            if min(out.count(SENTINEL), err.count(SENTINEL)) >= count:
                return out.splitlines(), err.splitlines()
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} sentinels per stream; stdout={out!r} stderr={err!r}")
            time.sleep(0.05)

    def close(self) -> None:
        self.connection.close()


def _wait_until_listening(ip: str, container: Container) -> None:
    """Poll connects until the proxy accepts, like the invoker's retried /init connection."""
    deadline = time.monotonic() + READY_DEADLINE_S
    while True:
        try:
            with socket.create_connection((ip, PROXY_PORT), timeout=1):
                return
        except OSError:
            container.reload()
            if container.status not in ("created", "running") or time.monotonic() > deadline:
                raise AssertionError(
                    f"proxy in {container.short_id} never listened: {container.logs().decode()}"
                ) from None
            time.sleep(0.02)


@pytest.fixture(scope="module")
def runtime_docker() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture(scope="module")
def python_runtime_image(runtime_docker: docker.DockerClient) -> str:
    """squall/action-python-v3, built (idempotent: the base is made once, the build is cached)."""
    (tag,) = build_runtime_images(runtime_docker, RUNTIMES_DIR, kinds=["python:3"])
    return tag


@pytest.fixture(params=["docker", "process"])
def python_runtime(request: pytest.FixtureRequest) -> Callable[..., RuntimeClient]:
    """Factory of fresh python:3 proxies (init is once per proxy), in Docker and as processes."""
    starter: Callable[..., RuntimeClient] = request.getfixturevalue(f"python_runtime_{request.param}")
    return starter


def _docker_logs(container: Container) -> tuple[str, str]:
    out = container.logs(stdout=True, stderr=False).decode("utf-8")
    err = container.logs(stdout=False, stderr=True).decode("utf-8")
    return out, err


def _process_logs(container: ProcessContainer) -> tuple[str, str]:
    """The json-file log the process factory writes, split back into the two streams."""
    streams = {"stdout": "", "stderr": ""}
    with open(container.log_path or "", encoding="utf-8") as file:
        for line in file:
            record = json.loads(line)
            streams[record["stream"]] += record["log"]
    return streams["stdout"], streams["stderr"]


@pytest.fixture
def python_runtime_process() -> Iterator[Callable[..., RuntimeClient]]:
    """Factory of fresh proxy processes from the ``process`` container factory; destroyed afterwards."""
    name = f"contract{secrets.token_hex(3)}"
    # Not pytest's tmp_path: as root, actions run as their own users and must be able to reach the folder.
    root = Path(tempfile.gettempdir()) / f"squall-{name}"
    settings = InvokerSettings(name=name, process_dir=str(root))
    started: list[tuple[ProcessContainer, RuntimeClient]] = []
    factories: list[LocalProcessFactory] = []

    def start(env: dict[str, str] | None = None) -> RuntimeClient:
        factory = LocalProcessFactory(settings, "http://127.0.0.1:3233", runtimes_dir=RUNTIMES_DIR,
                                      proxy_env=env or {})
        factories.append(factory)
        spec = ContainerSpec(image="unused", memory_mb=256, namespace="guest", action="contract", kind="python:3")
        container = factory.create(spec)
        client = RuntimeClient(lambda: _process_logs(container), container.host, container.port)
        started.append((container, client))
        return client

    yield start
    for container, client in started:
        client.close()
        container.destroy()
    for factory in factories:
        factory.close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def python_runtime_docker(
    runtime_docker: docker.DockerClient, python_runtime_image: str
) -> Iterator[Callable[..., RuntimeClient]]:
    """Factory of fresh runtime containers (init is once per container); removes them all afterwards."""
    clients: list[RuntimeClient] = []
    containers: list[Container] = []

    def start(env: dict[str, str] | None = None) -> RuntimeClient:
        container = runtime_docker.containers.run(
            python_runtime_image,
            detach=True,
            network_mode="bridge",
            mem_limit="256m",
            memswap_limit="256m",
            pids_limit=256,
            cap_drop=["NET_RAW", "NET_ADMIN"],
            environment=env or {},
            labels={"squall.test": "contract-runtime-protocol"},
        )
        containers.append(container)
        container.reload()
        ip = container.attrs["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        _wait_until_listening(ip, container)
        client = RuntimeClient(lambda: _docker_logs(container), ip)
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.close()
    for container in containers:
        container.remove(force=True)
