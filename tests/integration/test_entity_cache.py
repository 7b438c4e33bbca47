"""Two controller processes share one deployment: an update or delete through one is seen by the very next
invoke through the other, although both cache actions in memory (revisions checked in Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.stack import free_port, start, stop, wait_ready
from tests.integration.conftest import Stack
from tests.integration.helpers import invoke, put_action

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def second_controller(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = Path(tmp_path_factory.mktemp("second")) / "controller.log"
    process = start({**stack.env, "SQUALL_CONTROLLER_PORT": str(port)}, log, "controller")
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(url + "/ping", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_ready(up, "second controller", [process], log)
        yield url
    finally:
        stop(process)


def code(version: int) -> str:
    return f"def main(args):\n    return {{'version': {version}}}\n"


def test_update_and_delete_through_one_controller_are_seen_by_the_other(
        api: httpx.Client, stack: Stack, second_controller: str, unique: str) -> None:
    with httpx.Client(base_url=second_controller, auth=stack.guest, timeout=90.0) as other:
        put_action(api, unique, code(1))
        for _ in range(2):  # the second invoke is served from the other controller's cache
            assert invoke(other, unique, blocking="true", result="true").json() == {"version": 1}

        updated = api.put(f"/api/v1/namespaces/_/actions/{unique}", params={"overwrite": "true"},
                          json={"exec": {"kind": "python:default", "code": code(2)}})
        assert updated.status_code == 200
        assert invoke(other, unique, blocking="true", result="true").json() == {"version": 2}

        assert api.delete(f"/api/v1/namespaces/_/actions/{unique}").status_code == 200
        assert invoke(other, unique, blocking="true").status_code == 404
