"""Actions over REST: create, read, update, list, delete, and OpenWhisk's answers to bad input."""

from __future__ import annotations

import base64
import io
import zipfile

import httpx
import pytest

from tests.integration.helpers import put_action

pytestmark = pytest.mark.integration

HELLO = "def main(args):\n    return {'greeting': 'Hello ' + args.get('name', 'stranger')}\n"


def test_create_get_update_delete(api: httpx.Client, unique: str) -> None:
    created = put_action(api, unique, HELLO).json()
    assert created["name"] == unique and created["namespace"] == "guest"
    assert created["version"] == "0.0.1"
    annotations = {a["key"]: a["value"] for a in created["annotations"]}
    assert annotations == {"provide-api-key": False, "exec": "python:3"}
    assert created["limits"] == {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1}

    got = api.get(f"/api/v1/namespaces/guest/actions/{unique}").json()
    assert got["exec"]["code"] == HELLO and got["exec"]["binary"] is False
    without = api.get(f"/api/v1/namespaces/_/actions/{unique}", params={"code": "false"}).json()
    assert "code" not in without["exec"]

    again = api.put(f"/api/v1/namespaces/_/actions/{unique}", json={"exec": {"kind": "python:3", "code": HELLO}})
    assert again.status_code == 409 and again.json()["error"] == "resource already exists"

    updated = api.put(f"/api/v1/namespaces/_/actions/{unique}", params={"overwrite": "true"},
                      json={"limits": {"memory": 128}, "parameters": [{"key": "name", "value": "p"}]}).json()
    assert updated["version"] == "0.0.2"
    assert updated["limits"]["memory"] == 128 and updated["limits"]["timeout"] == 60000
    assert updated["exec"]["code"] == HELLO

    deleted = api.delete(f"/api/v1/namespaces/_/actions/{unique}")
    assert deleted.status_code == 200 and deleted.json()["name"] == unique
    missing = api.get(f"/api/v1/namespaces/_/actions/{unique}")
    assert missing.status_code == 404
    assert missing.json()["error"] == "The requested resource does not exist."


def test_list_newest_first_with_paging_and_count(api: httpx.Client, unique: str) -> None:
    for i in range(3):
        put_action(api, f"{unique}-{i}", HELLO)
    listed = api.get("/api/v1/namespaces/_/actions", params={"limit": 200}).json()
    names = [a["name"] for a in listed if a["name"].startswith(unique)]
    assert names == [f"{unique}-2", f"{unique}-1", f"{unique}-0"]
    assert "code" not in listed[0]["exec"]
    page = api.get("/api/v1/namespaces/_/actions", params={"limit": 1, "skip": 1}).json()
    assert len(page) == 1
    count = api.get("/api/v1/namespaces/_/actions", params={"count": "true"}).json()
    assert count["actions"] >= 3


def test_zip_code_is_recognised_as_binary(api: httpx.Client, unique: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("__main__.py", "def main(args):\n    return {'zipped': True}\n")
    code = base64.b64encode(buffer.getvalue()).decode()
    created = put_action(api, unique, code).json()
    assert created["exec"]["binary"] is True


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"exec": {"kind": "cobol:1", "code": "x"}}, 400,
     "The specified runtime 'cobol:1' is not supported by this platform."),
    ({"exec": {"kind": "python:3", "code": "x"}, "limits": {"memory": 1024}}, 400,
     "memory 1024 MB exceeds allowed threshold of 512 MB"),
    ({"exec": {"kind": "python:3", "code": "x"}, "limits": {"timeout": 50}}, 400,
     "timeout 50 milliseconds below allowed threshold of 100 milliseconds"),
    ({"exec": {"kind": "python:3", "code": "x"}, "limits": {"concurrency": 10}}, 400,
     "concurrency 10 exceeds allowed threshold of 1"),
    ({"exec": {"kind": "python:3"}}, 400, "The request content was malformed:"),
    ({"exec": {"kind": 3, "code": "x"}}, 400, "The request content was malformed:"),
    ({"exec": {"kind": "python:3", "code": "x"}, "parameters": "nope"}, 400, "The request content was malformed:"),
])
def test_bad_action_bodies(api: httpx.Client, unique: str, body: dict, status: int, message: str) -> None:
    response = api.put(f"/api/v1/namespaces/_/actions/{unique}", json=body)
    assert response.status_code == status
    assert response.json()["error"].startswith(message)
    assert response.json()["code"] == response.headers["X-Request-ID"]
    assert api.get(f"/api/v1/namespaces/_/actions/{unique}").status_code == 404  # nothing stored half-way


def test_malformed_json_and_illegal_names(api: httpx.Client, unique: str) -> None:
    broken = api.put(f"/api/v1/namespaces/_/actions/{unique}", content=b"{not json",
                     headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    assert broken.json()["error"].startswith("The request content was malformed:")
    illegal = api.put("/api/v1/namespaces/_/actions/%20bad", json={"exec": {"kind": "python:3", "code": "x"}})
    assert illegal.status_code == 400
    assert illegal.json()["error"] == "The name of the entity contains illegal characters."
    long_name = "a" * 257
    too_long = api.put(f"/api/v1/namespaces/_/actions/{long_name}", json={"exec": {"kind": "python:3", "code": "x"}})
    assert too_long.status_code == 400
    assert too_long.json()["error"] == "Name segement longer than allowed: 257 > 256."


def test_paging_validation(api: httpx.Client) -> None:
    over = api.get("/api/v1/namespaces/_/actions", params={"limit": 201})
    assert over.status_code == 400
    assert over.json()["error"] == "The value '201' is not in the range of 0 to 200 for actions."
    word = api.get("/api/v1/namespaces/_/actions", params={"limit": "ten"})
    assert word.json()["error"] == "The value 'ten' is not an integer for actions."


def test_authentication_and_entitlement(stack, unique: str) -> None:  # type: ignore[no-untyped-def]
    with stack.client(auth=None) as anonymous:
        anonymous.auth = None  # type: ignore[assignment]
        missing = httpx.get(stack.url + "/api/v1/namespaces/_/actions")
        assert missing.status_code == 401
        assert missing.json()["error"] == ("The resource requires authentication, "
                                           "which was not supplied with the request")
        assert missing.headers["WWW-Authenticate"] == 'Basic realm="OpenWhisk secure realm"'
    wrong = httpx.get(stack.url + "/api/v1/namespaces/_/actions", auth=(stack.guest[0], "x" * 64))
    assert wrong.status_code == 401 and wrong.json()["error"] == "The supplied authentication is invalid"
    unknown = httpx.get(stack.url + "/api/v1/namespaces/_/actions", auth=("nobody", "x"))
    assert unknown.status_code == 401

    with stack.client() as guest, stack.client(auth=stack.other) as other:
        put_action(guest, unique, HELLO)
        assert other.get("/api/v1/namespaces").json() == ["other"]
        for method, path in (("GET", f"/api/v1/namespaces/guest/actions/{unique}"),
                             ("DELETE", f"/api/v1/namespaces/guest/actions/{unique}"),
                             ("POST", f"/api/v1/namespaces/guest/actions/{unique}"),
                             ("GET", "/api/v1/namespaces/guest/actions/does-not-exist"),
                             ("GET", "/api/v1/namespaces/guest/activations")):
            denied = other.request(method, path)
            assert denied.status_code == 403, (method, path)
            assert denied.json()["error"].startswith("The supplied authentication is not authorized to access")
        assert guest.get(f"/api/v1/namespaces/guest/actions/{unique}").status_code == 200


def test_root_and_info_and_unknown_routes(stack) -> None:  # type: ignore[no-untyped-def]
    root = httpx.get(stack.url + "/")
    assert root.headers["Content-Type"] == "application/json"
    kinds = [k["kind"] for k in root.json()["runtimes"]["python"]]
    assert "python:3" in kinds
    info = httpx.get(stack.url + "/api/v1").json()
    assert info["api_version"] == "1.0.0" and info["build"].startswith("20")
    nowhere = httpx.get(stack.url + "/api/v1/nowhere", headers={"X-Request-ID": "abc123"})
    assert nowhere.status_code == 404
    assert nowhere.json() == {"error": "The requested resource does not exist.", "code": "abc123"}
    options = httpx.options(stack.url + "/api/v1/namespaces/_/actions")
    assert options.status_code == 200 and options.headers["Access-Control-Allow-Origin"] == "*"
