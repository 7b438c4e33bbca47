"""The real stack for integration tests: controller (gunicorn) and invoker (celery worker) started as a
user starts them, against the real RabbitMQ, Redis, CouchDB-API server and Docker.

One stack per test session; every test uses its own action names, so tests share no state.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
import pytest
from werkzeug.security import generate_password_hash

from tests.conftest import free_port

READY_DEADLINE_S = 60.0
SQUALL = str(Path(sys.executable).with_name("squall"))
OPERATOR = ("admin", "operator-password-for-tests")
GUEST_AUTH = ("23bc46b1-71f6-4ed5-8c54-816aa4f8c502",
              "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP")


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    guest: tuple[str, str]
    other: tuple[str, str]
    invoker_name: str
    logs: Path
    operator: tuple[str, str] = OPERATOR

    def client(self, auth: tuple[str, str] | None = None, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=auth or self.guest, timeout=90.0, **kwargs)  # type: ignore[arg-type]


def _squall(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([SQUALL, *args], env=env, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"squall {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


def _start(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([SQUALL, *args], env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _wait_ready(check: object, what: str, processes: list[subprocess.Popen[bytes]], log: Path) -> None:
    deadline = time.monotonic() + READY_DEADLINE_S
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            break
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready; log:\n{log.read_text(errors='replace')[-5000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def stack(couchdb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_id = secrets.token_hex(4)
    port = free_port()
    invoker = f"it{run_id}"
    client = docker.from_env()
    try:  # actions (feeds, for one) call the API back: through the bridge's gateway, so listen beyond 127.0.0.1
        ipam = client.networks.get("bridge").attrs["IPAM"]["Config"][0]
        gateway = ipam.get("Gateway") or str(next(ipaddress.ip_network(ipam["Subnet"]).hosts()))
    finally:
        client.close()
    env = {
        **os.environ,
        "SQUALL_COUCHDB_URL": couchdb_url,
        "SQUALL_COUCHDB_PREFIX": f"it{run_id}_",
        "SQUALL_CONTROLLER_PORT": str(port),
        "SQUALL_CONTROLLER_API_HOST": f"http://127.0.0.1:{port}",
        "SQUALL_CONTROLLER_HOST": "0.0.0.0",
        "SQUALL_INVOKER_API_HOST": f"http://{gateway}:{port}",
        "SQUALL_CONTROLLER_WORKERS": "1",
        "SQUALL_CONTROLLER_THREADS": "16",
        "SQUALL_INVOKER_NAME": invoker,
        "SQUALL_INVOKER_QUEUES": invoker,
        "SQUALL_INVOKER_THREADS": "4",
        "SQUALL_INVOKER_USER_MEMORY_MB": "2048",
        # The documented operator setup: admin pages with an operator, task events on for Flower.
        "SQUALL_ADMIN_OPERATOR_PASSWORD_HASH": generate_password_hash(OPERATOR[1]),
        "SQUALL_ADMIN_SECRET_KEY": secrets.token_hex(16),
        "SQUALL_BROKER_TASK_EVENTS": "true",
    }
    logs = tmp_path_factory.mktemp("stack")
    _squall(env, "admin", "seed")
    other = tuple(_squall(env, "admin", "user", "create", "other").split(":", 1))
    controller = _start(env, logs / "controller.log", "controller")
    worker = _start(env, logs / "invoker.log", "invoker")
    processes = [controller, worker]
    url = f"http://127.0.0.1:{port}"
    try:
        def controller_up() -> bool:
            try:
                return httpx.get(url + "/ping", timeout=1.0).status_code == 200
            except httpx.TransportError:
                return False

        _wait_ready(controller_up, "controller", processes, logs / "controller.log")
        ready_file = logs / "invoker.log"
        _wait_ready(lambda: "ready." in ready_file.read_text(errors="replace"), "invoker", processes, ready_file)
        yield Stack(url, env, GUEST_AUTH, other, invoker, logs)  # type: ignore[arg-type]
    finally:
        for p in processes:
            _stop(p)
        client = docker.from_env()
        try:
            for c in client.containers.list(all=True, filters={"label": f"squall.invoker={invoker}"}):
                c.remove(force=True)
        finally:
            client.close()


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client() as client:
        yield client


@pytest.fixture
def unique() -> str:
    return f"t{secrets.token_hex(4)}"
