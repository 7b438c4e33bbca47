"""The real stack for integration tests: controller (gunicorn) and invoker (celery worker) started as a
user starts them, against the real RabbitMQ, Redis, CouchDB-API server and Docker (``bench.stack``, which
``squall bench`` uses too).

One stack per test session; every test uses its own action names, so tests share no state.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
import pytest
from werkzeug.security import generate_password_hash

from bench.stack import GUEST_AUTH, free_port, new_run_id, squall, stack_env, start_stack

OPERATOR = ("admin", "operator-password-for-tests")


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


@pytest.fixture(scope="session")
def stack(couchdb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    client = docker.from_env()
    try:  # actions (feeds, for one) call the API back: through the bridge's gateway, so listen beyond 127.0.0.1
        ipam = client.networks.get("bridge").attrs["IPAM"]["Config"][0]
        gateway = ipam.get("Gateway") or str(next(ipaddress.ip_network(ipam["Subnet"]).hosts()))
    finally:
        client.close()
    port = free_port()
    env = stack_env(os.environ, couchdb_url, new_run_id(), port, {
        "SQUALL_CONTROLLER_HOST": "0.0.0.0",
        # The suite invokes as guest far more than OpenWhisk's 60 a minute; the throttle has its own tests.
        "SQUALL_LIMITS_INVOCATIONS_PER_MINUTE": "1000000",
        "SQUALL_LIMITS_CONCURRENT_INVOCATIONS": "1000000",  # likewise: tested with namespace overrides
        "SQUALL_ADMIN_LOGIN_ATTEMPTS_PER_MINUTE": "1000000",  # every test logs in from 127.0.0.1
        "SQUALL_INVOKER_API_HOST": f"http://{gateway}:{port}",
        "SQUALL_CONTROLLER_WORKERS": "1",
        "SQUALL_CONTROLLER_THREADS": "16",
        "SQUALL_INVOKER_THREADS": "4",
        "SQUALL_INVOKER_USER_MEMORY_MB": "2048",
        # The documented operator setup: admin pages with an operator, task events on for Flower.
        "SQUALL_ADMIN_OPERATOR_PASSWORD_HASH": generate_password_hash(OPERATOR[1]),
        "SQUALL_ADMIN_SECRET_KEY": secrets.token_hex(16),
        "SQUALL_BROKER_TASK_EVENTS": "true",
    })
    logs = tmp_path_factory.mktemp("stack")
    squall(env, "admin", "seed")
    other = tuple(squall(env, "admin", "user", "create", "other").split(":", 1))
    running = start_stack(env, logs)
    try:
        yield Stack(running.url, env, GUEST_AUTH, other, running.invoker_name, logs)  # type: ignore[arg-type]
    finally:
        running.stop()


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client() as client:
        yield client


@pytest.fixture
def unique() -> str:
    return f"t{secrets.token_hex(4)}"


@pytest.fixture
def redis_url() -> str:
    """The Redis the deployment uses (its result backend); the suite fails when that is not Redis."""
    from config import load_settings

    url = load_settings().broker.result_backend
    if not url.startswith("redis://"):
        pytest.fail(f"the result backend {url} is not Redis")
    return url
