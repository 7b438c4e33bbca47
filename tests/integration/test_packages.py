"""Packages and bindings through the REST API: CRUD, sharing across namespaces, parameter precedence,
actions inside packages and bindings, and the authorization rules
(https://github.com/apache/openwhisk/blob/master/docs/packages.md)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.conftest import Stack
from tests.integration.helpers import wait_for_record

pytestmark = pytest.mark.integration

ECHO = "def main(args):\n    return args\n"
PKG = "/api/v1/namespaces/_/packages"


def kv(**values: Any) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v in values.items()]


def put_package(api: httpx.Client, name: str, **body: Any) -> httpx.Response:
    return api.put(f"{PKG}/{name}", json=body)


def put_action(api: httpx.Client, name: str, code: str = ECHO, **extra: Any) -> httpx.Response:
    return api.put(f"/api/v1/namespaces/_/actions/{name}", json={"exec": {"kind": "python:default", "code": code},
                                                               **extra})


def error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    message: str = response.json()["error"]
    assert response.json()["code"]
    return message


def test_binding_precedence_and_activation_annotations(api: httpx.Client, unique: str) -> None:
    put_package(api, unique, parameters=kv(p="package", b="package", a="package", x="package"))
    put_action(api, f"{unique}/echo", parameters=kv(a="action", x="action"))
    bound = put_package(api, f"{unique}-bind", binding={"namespace": "guest", "name": unique},
                        parameters=kv(b="binding", x="binding"), annotations=kv(binding="ignored"))
    assert bound.status_code == 200
    annotations = {a["key"]: a["value"] for a in bound.json()["annotations"]}
    assert annotations["binding"] == {"namespace": "guest", "name": unique}

    shown = api.get(f"{PKG}/{unique}-bind").json()
    assert shown["binding"] == {"namespace": "guest", "name": unique}
    assert {p["key"]: p["value"] for p in shown["parameters"]}["b"] == "binding"
    assert [a["name"] for a in shown["actions"]] == ["echo"]

    response = api.post(f"/api/v1/namespaces/_/actions/{unique}-bind/echo", params={"blocking": "true"},
                        json={"x": "payload"})
    assert response.status_code == 200, response.text
    activation = response.json()
    assert activation["response"]["result"] == {"p": "package", "b": "binding", "a": "action", "x": "payload"}
    notes = {a["key"]: a["value"] for a in activation["annotations"]}
    assert notes["path"] == f"guest/{unique}/echo"
    assert notes["binding"] == f"guest/{unique}-bind"
    record = wait_for_record(api, activation["activationId"])
    assert record["name"] == "echo"
    by_name = api.get("/api/v1/namespaces/_/activations", params={"name": f"{unique}/echo"}).json()
    assert [a["activationId"] for a in by_name] == [activation["activationId"]]

    direct = api.post(f"/api/v1/namespaces/_/actions/{unique}/echo", params={"blocking": "true",
                                                                             "result": "true"})
    assert direct.json() == {"p": "package", "b": "package", "a": "action", "x": "action"}
    via_get = api.get(f"/api/v1/namespaces/_/actions/{unique}-bind/echo").json()
    assert {p["key"]: p["value"] for p in via_get["parameters"]}["b"] == "binding"
    assert error(api.delete(f"/api/v1/namespaces/_/actions/{unique}-bind/echo"), 400) == \
        "Operation not permitted on package binding."


def test_sharing_across_namespaces(stack: Stack, api: httpx.Client, unique: str) -> None:
    put_package(api, unique, publish=True, parameters=kv(shared="yes"))
    put_action(api, f"{unique}/echo")
    put_package(api, f"{unique}-private")
    put_action(api, f"{unique}-private/echo")
    put_package(api, f"{unique}-pubbind", publish=True, binding={"namespace": "guest", "name": unique})
    with stack.client(auth=stack.other) as other:
        listed = [p["name"] for p in other.get("/api/v1/namespaces/guest/packages", params={"limit": 200}).json()]
        assert unique in listed
        assert f"{unique}-private" not in listed and f"{unique}-pubbind" not in listed  # bindings never listed
        assert other.get(f"/api/v1/namespaces/guest/packages/{unique}").status_code == 200
        # private and missing look the same to a non-owner: 403, no leak
        private = other.get(f"/api/v1/namespaces/guest/packages/{unique}-private")
        nothing = other.get(f"/api/v1/namespaces/guest/packages/{unique}-nothing")
        assert error(private, 403) == f"The supplied authentication is not authorized to access " \
                                      f"'guest/{unique}-private'."
        assert error(nothing, 403).startswith("The supplied authentication is not authorized")
        assert other.get(f"/api/v1/namespaces/guest/packages/{unique}-pubbind").status_code == 403
        assert other.get(f"/api/v1/namespaces/guest/actions/{unique}-private/echo").status_code == 403
        assert other.post(f"/api/v1/namespaces/guest/actions/{unique}-nothing/echo").status_code == 403
        assert other.get(f"/api/v1/namespaces/guest/actions/{unique}/echo").status_code == 200
        # no writes into someone else's package, public or not
        assert other.put(f"/api/v1/namespaces/guest/actions/{unique}/x",
                         json={"exec": {"kind": "python:default", "code": ECHO}}).status_code == 403
        assert other.delete(f"/api/v1/namespaces/guest/packages/{unique}").status_code == 403
        assert other.put(f"/api/v1/namespaces/guest/packages/{unique}-y", json={}).status_code == 403

        direct = other.post(f"/api/v1/namespaces/guest/actions/{unique}/echo",
                            params={"blocking": "true"}, json={"who": "other"})
        assert direct.status_code == 200, direct.text
        assert direct.json()["namespace"] == "other"  # billed to the invoker, not the owner
        assert direct.json()["response"]["result"] == {"shared": "yes", "who": "other"}

        refused = other.put(f"/api/v1/namespaces/_/packages/{unique}-b",
                            json={"binding": {"namespace": "guest", "name": f"{unique}-private"}})
        assert refused.status_code == 403
        bound = other.put(f"/api/v1/namespaces/_/packages/{unique}-b",
                          json={"binding": {"namespace": "guest", "name": unique}, "parameters": kv(mine=1)})
        assert bound.status_code == 200, bound.text
        via = other.post(f"/api/v1/namespaces/_/actions/{unique}-b/echo", params={"blocking": "true",
                                                                                 "result": "true"})
        assert via.json() == {"shared": "yes", "mine": 1}
        assert other.get(f"/api/v1/namespaces/_/actions/{unique}-b/").json()[0]["name"] == "echo"
