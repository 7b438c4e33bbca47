"""``squall admin`` against the real CouchDB-API server, seen through the running controller."""

from __future__ import annotations

import time

import httpx
import pytest

from bench.stack import squall as _squall
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

CACHE_DEADLINE_S = 15.0  # the controller trusts a looked-up key for identity_cache_seconds (5 s)


def _status_until(url: str, auth: tuple[str, str], wanted: int) -> int:
    deadline = time.monotonic() + CACHE_DEADLINE_S
    while True:
        status = httpx.get(url + "/api/v1/namespaces", auth=auth).status_code
        if status == wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def test_user_lifecycle(stack: Stack, unique: str) -> None:
    uuid, key = _squall(stack.env, "admin", "user", "create", unique).split(":")
    assert len(key) == 64
    assert httpx.get(stack.url + "/api/v1/namespaces", auth=(uuid, key)).json() == [unique]
    listed = _squall(stack.env, "admin", "user", "list")
    assert f"{unique}\t{unique}\t{uuid}" in listed and key not in listed

    _squall(stack.env, "admin", "user", "block", unique)
    assert "(blocked)" in _squall(stack.env, "admin", "user", "list")
    assert _status_until(stack.url, (uuid, key), 401) == 401
    _squall(stack.env, "admin", "user", "unblock", unique)
    assert _status_until(stack.url, (uuid, key), 200) == 200
    _squall(stack.env, "admin", "user", "delete", unique)
    assert _status_until(stack.url, (uuid, key), 401) == 401
