"""``squall flower`` against the stack's broker: authentication on, and an activation readable through
Flower's API as a task whose id is the activation id and whose name is the action's path."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bench.stack import start, stop, wait_ready
from tests.conftest import free_port
from tests.integration.conftest import Stack
from tests.integration.helpers import invoke, put_action

pytestmark = pytest.mark.integration

FLOWER_AUTH = ("flower-op", "flower-secret")
SEEN_DEADLINE_S = 20.0
ATTEMPTS = 3


@pytest.fixture(scope="module")
def flower(stack: Stack) -> Iterator[str]:
    port = free_port()
    env = {**stack.env, "SQUALL_FLOWER_PORT": str(port), "SQUALL_FLOWER_BASIC_AUTH": ":".join(FLOWER_AUTH)}
    log = stack.logs / "flower.log"
    process = start(env, log, "flower")
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(url + "/healthcheck", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_ready(up, "flower", [process], log)
        yield url
    finally:
        stop(process)


def _task(flower: str, task_id: str) -> dict[str, Any] | None:
    response = httpx.get(f"{flower}/api/task/info/{task_id}", auth=FLOWER_AUTH, timeout=5.0)
    if response.status_code != 200:
        return None
    task: dict[str, Any] = response.json()
    return task if task.get("state") == "SUCCESS" else None


def test_flower_requires_authentication(flower: str) -> None:
    assert httpx.get(f"{flower}/api/tasks", timeout=5.0).status_code == 401
    assert httpx.get(f"{flower}/api/tasks", auth=("flower-op", "wrong"), timeout=5.0).status_code == 401
    assert httpx.get(f"{flower}/api/tasks", auth=FLOWER_AUTH, timeout=5.0).status_code == 200


def test_an_activation_is_a_flower_task_named_after_its_action(flower: str, stack: Stack, api: httpx.Client,
                                                               unique: str) -> None:
    put_action(api, unique, "def main(args):\n    return {'seen': True}\n")
    # Flower only sees events sent after its event receiver connected; an invocation made in that gap is
    # not retried by anyone, so invoke again (a bounded number of times) until one shows up.
    for _ in range(ATTEMPTS):
        answer = invoke(api, unique, {"secret": "payload-not-for-flower"}, blocking="true")
        activation_id = answer.json()["activationId"]
        deadline = time.monotonic() + SEEN_DEADLINE_S
        while time.monotonic() < deadline:
            task = _task(flower, activation_id)
            if task is not None:
                assert task["uuid"] == activation_id
                assert task["name"] == f"/guest/{unique}"
                assert task["worker"].startswith(stack.invoker_name + ".")  # the invoker that ran it: <name>.<pid>@host
                # Flower shows which activation, never what it was given (payloads, API keys)
                assert activation_id in task["kwargs"]
                assert "payload-not-for-flower" not in json.dumps(task)
                return
            time.sleep(0.2)
    pytest.fail(f"Flower never showed activation {activation_id}; see its log")
