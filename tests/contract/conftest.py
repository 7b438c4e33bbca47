"""Fixtures for the runtime-protocol contract: every runtime image of the manifest, each proxy started in a
container of its image and (for the language families) as a local sandboxed process of the ``process`` factory,
so one suite holds every runtime and both factories to the protocol."""

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

from app.core.manifest import BLACKBOX, RuntimeManifest
from app.host.images import build_runtime_images, runtime_images
from config.settings import InvokerSettings
from workers.factories.base import ContainerSpec
from workers.factories.process import LocalProcessFactory, ProcessContainer

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
    raw: bytes = b""


@dataclass
class RuntimeClient:
    """One proxy (a container or a process) and one keep-alive HTTP connection to it."""

    read_logs: Callable[[], tuple[str, str]]  # the proxy's stdout and stderr so far
    ip: str
    port: int = PROXY_PORT
    connection: http.client.HTTPConnection = field(init=False)

    def __post_init__(self) -> None:
        if self.ip.startswith("/"):  # a process container's proxy listens on a private Unix socket
            from workers.proxy_client import UnixHTTPConnection

            self.connection = UnixHTTPConnection(self.ip, timeout=60)
        else:
            self.connection = http.client.HTTPConnection(self.ip, self.port, timeout=60)

    def post(self, path: str, payload: object) -> Response:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        reply = self.connection.getresponse()
        raw = reply.read()
        return Response(reply.status, json.loads(raw.decode("utf-8")), dict(reply.getheaders()), raw)

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


def _wait_until_listening(ip: str, port: int, container: Container) -> None:
    """Poll connects until the proxy accepts, like the invoker's retried /init connection."""
    deadline = time.monotonic() + READY_DEADLINE_S
    while True:
        try:
            with socket.create_connection((ip, port), timeout=1):
                return
        except OSError:
            container.reload()
            if container.status not in ("created", "running") or time.monotonic() > deadline:
                raise AssertionError(
                    f"proxy in {container.short_id} never listened: {container.logs().decode()}"
                ) from None
            time.sleep(0.02)


# --- the runtimes under test: every image the manifest has us build --------------------------------


@dataclass(frozen=True)
class RuntimeUnderTest:
    """One image of the manifest and the dialect its test actions are written in."""

    kind: str  # "python:3", "nodejs:18", or "blackbox" for a skeleton image
    image: str
    dialect: str  # "python", "nodejs" (the manifest family) or "exec" (a dockerskeleton-like image)
    concurrent: bool
    factory: str = "docker"  # "docker" (a container of the image) or "process" (the process factory)

    @property
    def id(self) -> str:
        name = self.kind if self.kind != BLACKBOX else f"blackbox:{self.image}"
        return f"{name}-{self.factory}"


def runtimes_under_test() -> list[RuntimeUnderTest]:
    """Every image ``squall runtimes build`` makes from the manifest: a new kind gets the suite for free."""
    manifest = RuntimeManifest.load(RUNTIMES_DIR / "manifest.json")
    out = []
    for image in runtime_images(RUNTIMES_DIR):
        if image.kind == BLACKBOX:
            out.append(RuntimeUnderTest(image.kind, image.tag, "exec", concurrent=False))
        else:
            runtime = manifest.runtime(image.kind)
            out.append(RuntimeUnderTest(image.kind, image.tag, runtime.family, runtime.concurrent))
            # The process factory runs the same shared proxy of the family outside Docker.
            out.append(RuntimeUnderTest(image.kind, image.tag, runtime.family, runtime.concurrent, "process"))
    return out


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "dialects(*names): run only on runtimes whose test code is in these dialects")
    config.addinivalue_line("markers", "concurrent_runtimes: run only on runtimes that take concurrent /run requests")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``runtime`` over the runtimes under test, narrowed by the markers above."""
    if "runtime" not in metafunc.fixturenames:
        return
    selected = runtimes_under_test()
    dialects = metafunc.definition.get_closest_marker("dialects")
    if dialects is not None:
        selected = [r for r in selected if r.dialect in dialects.args]
    if metafunc.definition.get_closest_marker("concurrent_runtimes") is not None:
        selected = [r for r in selected if r.concurrent]
    metafunc.parametrize("runtime", selected, ids=[r.id for r in selected], scope="module")


@pytest.fixture(scope="module")
def runtime_docker() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
def start(request: pytest.FixtureRequest, runtime: RuntimeUnderTest) -> Callable[..., RuntimeClient]:
    """Factory of fresh proxies of ``runtime`` (init is once per proxy), in the runtime's factory."""
    starter: Callable[..., RuntimeClient] = request.getfixturevalue(f"start_{runtime.factory}")
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
def start_process(runtime: RuntimeUnderTest) -> Iterator[Callable[..., RuntimeClient]]:
    """Fresh proxy processes from the ``process`` container factory; destroyed afterwards."""
    name = f"contract{secrets.token_hex(3)}"
    # Not pytest's tmp_path: as root, actions run as their own users and must be able to reach the folder.
    root = Path(tempfile.gettempdir()) / f"squall-{name}"
    settings = InvokerSettings(name=name, process_dir=str(root))
    started: list[tuple[ProcessContainer, RuntimeClient]] = []
    factories: list[LocalProcessFactory] = []

    def start_process_proxy(env: dict[str, str] | None = None) -> RuntimeClient:
        factory = LocalProcessFactory(settings, "http://127.0.0.1:3233", runtimes_dir=RUNTIMES_DIR,
                                      proxy_env=env or {})
        factories.append(factory)
        spec = ContainerSpec(image="unused", memory_mb=256, namespace="guest", action="contract", kind=runtime.kind)
        container = factory.create(spec)
        client = RuntimeClient(lambda: _process_logs(container), container.host, container.port)
        started.append((container, client))
        return client

    yield start_process_proxy
    for container, client in started:
        client.close()
        container.destroy()
    for factory in factories:
        factory.close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def start_docker(
    runtime_docker: docker.DockerClient, runtime: RuntimeUnderTest
) -> Iterator[Callable[..., RuntimeClient]]:
    """Fresh containers of the runtime's image (built; idempotent and cached); removed afterwards."""
    build_runtime_images(runtime_docker, RUNTIMES_DIR, kinds=[runtime.image])
    clients: list[RuntimeClient] = []
    containers: list[Container] = []

    def start_container(env: dict[str, str] | None = None) -> RuntimeClient:
        """A container of the image; ``env`` may move the proxy (PROXY_PORT) like any PROXY_* setting."""
        container = runtime_docker.containers.run(
            runtime.image,
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
        port = int((env or {}).get("PROXY_PORT", PROXY_PORT))
        _wait_until_listening(ip, port, container)
        client = RuntimeClient(lambda: _docker_logs(container), ip, port)
        clients.append(client)
        return client

    yield start_container
    for client in clients:
        client.close()
    for container in containers:
        container.remove(force=True)
