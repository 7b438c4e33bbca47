"""``squall admin catalog install`` and the public ``/whisk.system/utils`` package, used from another
namespace directly and through a binding."""

from __future__ import annotations

import subprocess
from typing import Any

import httpx
import pytest

from bench.stack import SQUALL
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

UTILS = "/api/v1/namespaces/whisk.system/actions/utils"


def install(stack: Stack) -> str:
    done = subprocess.run([SQUALL, "admin", "catalog", "install"], env=stack.env, capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def catalog(stack: Stack) -> None:
    install(stack)


def run(api: httpx.Client, action: str, **params: Any) -> Any:
    response = api.post(f"{UTILS}/{action}", params={"blocking": "true", "result": "true"}, json=params)
    assert response.status_code in (200, 502), response.text
    return response.json()


def test_install_is_idempotent(stack: Stack, catalog: None, api: httpx.Client) -> None:
    assert install(stack) == "catalog is up to date"
    packages = {p["name"]: p for p in api.get("/api/v1/namespaces/whisk.system/packages").json()}
    assert packages["utils"]["publish"] is True and packages["alarms"]["publish"] is True
    alarms = api.get("/api/v1/namespaces/whisk.system/packages/alarms").json()
    assert sorted(f["name"] for f in alarms["feeds"]) == ["alarm", "interval", "once"]
    utils = api.get("/api/v1/namespaces/whisk.system/packages/utils").json()
    assert sorted(a["name"] for a in utils["actions"]) == ["cat", "date", "echo", "head", "namespace", "smash",
                                                           "sort", "split"]


def test_utils_behave_like_openwhisks(catalog: None, api: httpx.Client) -> None:
    assert run(api, "echo", payload="Five fuzzy felines") == {"payload": "Five fuzzy felines"}
    assert run(api, "cat", lines=[4, 2, 3]) == {"lines": [4, 2, 3], "payload": "4\n2\n3"}
    assert run(api, "sort", lines=[4, 2, 3, 10]) == {"lines": [10, 2, 3, 4], "length": 4}  # string order, as JS
    assert run(api, "head", lines=[4, 2, 3], num=2) == {"lines": [4, 2], "num": 2}
    assert run(api, "head", lines=[4, 2, 3]) == {"lines": [4], "num": 1}
    assert run(api, "split", payload="one,two,three", separator=",") == {
        "lines": ["one", "two", "three"], "payload": "one,two,three"}
    assert run(api, "split", payload="a\r\nb\nc") == {"lines": ["a", "b", "c"], "payload": "a\r\nb\nc"}
    assert run(api, "smash", **{"a": 1, "b": {"c": 2}, "$fieldName": "p"}) == {"p": {"a": 1, "b": {"c": 2}}}
    assert run(api, "smash", a=1) == {"error": "Expected an argument '$fieldName' of type 'string'."}
    date = run(api, "date")["date"]
    assert date.startswith("20") and date.endswith("Z") and len(date) == 24
    assert run(api, "namespace") == {"namespace": "guest"}


def test_another_namespace_binds_utils_and_runs_a_sequence_of_calls(stack: Stack, catalog: None,
                                                                   unique: str) -> None:
    with stack.client(auth=stack.other) as other:
        assert other.post(f"{UTILS}/namespace", params={"blocking": "true", "result": "true"}).json() == {
            "namespace": "other"}
        bound = other.put(f"/api/v1/namespaces/_/packages/{unique}",
                          json={"binding": {"namespace": "whisk.system", "name": "utils"},
                                "parameters": [{"key": "lines", "value": ["b", "a"]}]})
        assert bound.status_code == 200, bound.text
        result = other.post(f"/api/v1/namespaces/_/actions/{unique}/sort", params={"blocking": "true"})
        assert result.json()["response"]["result"] == {"lines": ["a", "b"], "length": 2}
        notes = {a["key"]: a["value"] for a in result.json()["annotations"]}
        assert notes["path"] == "whisk.system/utils/sort" and notes["binding"] == f"other/{unique}"
        assert other.put(f"{UTILS}/echo", json={"exec": {"kind": "python:default", "code": "x"}}).status_code == 403
