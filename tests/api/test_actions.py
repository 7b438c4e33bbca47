"""``/namespaces/{ns}/actions``: create, read, update, delete and list, and OpenWhisk's answers to bad input.
Invoking is in test_invoke."""

from __future__ import annotations

import base64
import io
import zipfile
from typing import Any

import pytest

from tests.api.conftest import CODE, NS, Api, MakeApi, as_dict, error, kv, next_ms, ok

pytestmark = pytest.mark.api

ACTIONS = f"{NS}/actions"
PY: dict[str, Any] = {"kind": "python:3", "code": CODE}


def test_create_get_update_delete(api: Api) -> None:
    created = api.action("hello")
    assert created["name"] == "hello" and created["namespace"] == api.ns
    assert created["version"] == "0.0.1" and created["publish"] is False
    assert created["exec"] == {"kind": "python:3", "code": CODE, "binary": False}
    assert as_dict(created["annotations"]) == {"provide-api-key": False, "exec": "python:3"}
    assert created["limits"] == {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1}
    assert created["parameters"] == [] and isinstance(created["updated"], int)

    got = ok(api.get(f"/api/v1/namespaces/{api.ns}/actions/hello"))
    assert got == created
    without = ok(api.get(f"{ACTIONS}/hello", query={"code": "false"}))
    assert without["exec"] == {"kind": "python:3", "binary": False}

    again = api.put(f"{ACTIONS}/hello", {"exec": PY})
    assert error(again, 409) == "resource already exists"

    updated = ok(api.put(f"{ACTIONS}/hello", {"limits": {"memory": 128}, "parameters": kv(name="p")},
                         query={"overwrite": "true"}))
    assert updated["version"] == "0.0.2"
    assert updated["limits"] == {"timeout": 60000, "memory": 128, "logs": 10, "concurrency": 1}
    assert updated["exec"]["code"] == CODE and updated["parameters"] == kv(name="p")

    deleted = ok(api.delete(f"{ACTIONS}/hello"))
    assert deleted["name"] == "hello" and deleted["version"] == "0.0.2"
    assert error(api.get(f"{ACTIONS}/hello"), 404) == "The requested resource does not exist."
    assert error(api.delete(f"{ACTIONS}/hello"), 404) == "The requested resource does not exist."


def test_overwrite_creates_when_missing_and_merges_annotations(api: Api) -> None:
    created = ok(api.put(f"{ACTIONS}/a", {"exec": PY, "annotations": kv(x=1, y=2)}, query={"overwrite": "true"}))
    assert created["version"] == "0.0.1"
    updated = ok(api.put(f"{ACTIONS}/a", {"annotations": kv(z=3), "delAnnotations": ["x"], "version": "1.2.3"},
                         query={"overwrite": "true"}))
    assert as_dict(updated["annotations"]) == {"y": 2, "provide-api-key": False, "exec": "python:3", "z": 3}
    assert updated["version"] == "1.2.3"


def test_list_newest_first_with_paging_and_count(api: Api) -> None:
    for name in ("c", "b", "a"):
        api.action(name)
        next_ms()
    listed = ok(api.get(ACTIONS))
    assert [a["name"] for a in listed] == ["a", "b", "c"]
    assert listed[0] == {"namespace": api.ns, "name": "a", "version": "0.0.1", "publish": False,
                         "annotations": kv(**{"provide-api-key": False, "exec": "python:3"}),
                         "limits": {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1},
                         "exec": {"binary": False}, "updated": listed[0]["updated"]}
    assert [a["name"] for a in ok(api.get(ACTIONS, query={"limit": 1, "skip": 1}))] == ["b"]
    assert [a["name"] for a in ok(api.get(ACTIONS, query={"skip": 2}))] == ["c"]
    assert [a["name"] for a in ok(api.get(ACTIONS, query={"limit": 0}))] == ["a", "b", "c"]  # 0: the most
    assert ok(api.get(ACTIONS, query={"count": "true"})) == {"actions": 3}
    assert ok(api.get(ACTIONS, auth=api.other)) == []


def test_zip_code_is_recognised_as_binary(api: Api) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("__main__.py", "def main(args):\n    return {'zipped': True}\n")
    created = api.action("zipped", base64.b64encode(buffer.getvalue()).decode())
    assert created["exec"]["binary"] is True


def test_blackbox_and_kind_aliases(api: Api) -> None:
    blackbox = ok(api.put(f"{ACTIONS}/bb", {"exec": {"kind": "blackbox", "image": "openwhisk/dockerskeleton"}}))
    assert blackbox["exec"] == {"kind": "blackbox", "image": "openwhisk/dockerskeleton", "binary": False}
    default = api.action("d", kind="python:default")
    assert default["exec"]["kind"] == "python:3"


def test_concurrency_above_one_only_for_concurrent_runtimes(api: Api) -> None:
    node = api.action("n", "function main(a) { return a }", kind="nodejs:18", limits={"concurrency": 10})
    assert node["limits"]["concurrency"] == 10
    refused = api.put(f"{ACTIONS}/p", {"exec": PY, "limits": {"concurrency": 10}})
    assert error(refused, 400) == "concurrency 10 exceeds allowed threshold of 1"
    over = api.put(f"{ACTIONS}/n2", {"exec": {"kind": "nodejs:18", "code": "x"}, "limits": {"concurrency": 501}})
    assert error(over, 400) == "concurrency 501 exceeds allowed threshold of 500"


MALFORMED = "The request content was malformed:\n"


@pytest.mark.parametrize(("body", "message"), [
    ({"exec": {"kind": "cobol:1", "code": "x"}},
     "The specified runtime 'cobol:1' is not supported by this platform. Valid values are: go:1.19, java:17, "
     "nodejs:18, php:8.2, python:3, ruby:3.1, rust:1.63, blackbox."),
    ({"exec": PY, "limits": {"memory": 1024}}, "memory 1024 MB exceeds allowed threshold of 512 MB"),
    ({"exec": PY, "limits": {"memory": 64}}, "memory 64 MB below allowed threshold of 128 MB"),
    ({"exec": PY, "limits": {"timeout": 50}}, "timeout 50 milliseconds below allowed threshold of 100 milliseconds"),
    ({"exec": PY, "limits": {"timeout": 300_001}},
     "timeout 300001 milliseconds exceeds allowed threshold of 300000 milliseconds"),
    ({"exec": PY, "limits": {"logs": 11}}, "log size 11 MB exceeds allowed threshold of 10 MB"),
    ({"exec": PY, "limits": {"concurrency": 0}}, "concurrency 0 below allowed threshold of 1"),
    ({"exec": PY, "limits": {"memory": "256"}}, f"{MALFORMED}memory limit must be an integer"),
    ({"exec": PY, "limits": {"memory": True}}, f"{MALFORMED}memory limit must be an integer"),
    ({"exec": PY, "limits": []}, MALFORMED),
    ({"exec": {"kind": "python:3"}}, f"{MALFORMED}exec.code undefined"),
    ({"exec": {"kind": "blackbox"}}, f"{MALFORMED}exec.image undefined for a blackbox action"),
    ({"exec": {"kind": 3, "code": "x"}}, f"{MALFORMED}exec.kind: "),
    ({"exec": "python"}, f"{MALFORMED}exec: "),
    ({"exec": PY, "parameters": "nope"}, f"{MALFORMED}parameters: "),
    ({"exec": PY, "parameters": [{"value": 1}]}, f"{MALFORMED}parameters.0.key: "),
    ({"exec": PY, "version": "1.0.x"}, f"{MALFORMED}version: semantic version malformed"),
    ({}, f"{MALFORMED}exec undefined"),
])
def test_bad_bodies_are_400_and_store_nothing(api: Api, body: dict[str, Any], message: str) -> None:
    found = error(api.put(f"{ACTIONS}/bad", body), 400)
    assert found.startswith(message), found
    if not message.endswith((": ", "\n")):
        assert found == message
    error(api.get(f"{ACTIONS}/bad"), 404)  # nothing stored half-way


@pytest.mark.parametrize(("name", "message"), [
    ("%20bad", "The name of the entity contains illegal characters."),
    ("bad%20", "The name of the entity contains illegal characters."),
    ("-bad", "The name of the entity contains illegal characters."),
    ("a/b/c", "The name of the entity contains illegal characters."),
    ("a" * 257, "Name segement longer than allowed: 257 > 256."),
])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "POST"])
def test_illegal_names_are_400(api: Api, name: str, message: str, method: str) -> None:
    response = api.request(method, f"{ACTIONS}/{name}", json={"exec": PY})
    assert error(response, 400) == message


def test_names_may_hold_words_dots_ats_and_spaces(api: Api) -> None:
    for name in ("a.b", "a@b", "a-b", "a&b", "a b", "a" * 256):
        assert api.action(name.replace(" ", "%20"))["name"] == name


def test_a_namespace_with_an_illegal_name_is_403_not_ours(api: Api) -> None:
    response = api.get("/api/v1/namespaces/b%20ad/actions")
    assert error(response, 403) == "The supplied authentication is not authorized to access 'b ad'."


def test_reading_another_kind_of_entity_is_409(api: Api) -> None:
    api.trigger("t")
    api.package("p")
    for name in ("t", "p"):
        message = error(api.get(f"{ACTIONS}/{name}"), 409)
        assert message == "Resource by this name exists but is not in this collection."


def test_actions_in_packages(api: Api) -> None:
    assert error(api.put(f"{ACTIONS}/nothing/a", {"exec": PY}), 404) == "The requested resource does not exist."
    api.package("p")
    inside = api.action("p/a")
    assert inside["namespace"] == f"{api.ns}/p" and inside["name"] == "a"
    assert ok(api.get(f"{ACTIONS}/p/a"))["namespace"] == f"{api.ns}/p"
    listed = ok(api.get(f"{ACTIONS}/p/"))
    assert [(a["namespace"], a["name"]) for a in listed] == [(f"{api.ns}/p", "a")]
    assert [a["name"] for a in ok(api.get(ACTIONS))] == ["a"]  # the namespace's list holds its packages' too
    assert error(api.get(f"{ACTIONS}/nothing/"), 404) == "The requested resource does not exist."
    assert ok(api.delete(f"{ACTIONS}/p/a"))["name"] == "a"
    assert ok(api.get(f"{ACTIONS}/p/")) == []


def test_no_actions_in_a_binding(api: Api) -> None:
    api.package("p")
    api.action("p/a")
    api.package("b", binding={"namespace": "_", "name": "p"})
    message = "Operation not permitted on package binding."
    assert error(api.put(f"{ACTIONS}/b/x", {"exec": PY}), 400) == message
    assert error(api.delete(f"{ACTIONS}/b/a"), 400) == message
    assert [a["name"] for a in ok(api.get(f"{ACTIONS}/b/"))] == ["a"]  # the bound package's


def test_code_over_the_limit_is_413(make_api: MakeApi) -> None:
    api = make_api(limits={"exec_bytes": 1000})
    assert api.action("fits", "x" * 1000)["exec"]["code"] == "x" * 1000
    response = api.put(f"{ACTIONS}/big", {"exec": {"kind": "python:3", "code": "x" * 1001}})
    assert error(response, 413) == "Code size exceeds the allowed limit of 1000 bytes."
    error(api.get(f"{ACTIONS}/big"), 404)


@pytest.mark.parametrize("what", ["parameters", "annotations"])
def test_parameters_over_the_limit_are_413(make_api: MakeApi, what: str) -> None:
    api = make_api(limits={"parameters_bytes": 100})
    response = api.put(f"{ACTIONS}/a", {"exec": PY, what: kv(blob="x" * 100)})
    assert error(response, 413) == f"The size of {what} exceeds the allowed limit of 100 bytes."


def test_body_over_the_limit_is_413(make_api: MakeApi) -> None:
    api = make_api(limits={"exec_bytes": 100, "payload_bytes": 10})  # an action's body 200 bytes, any body 210
    body = '{"exec": {"kind": "python:3", "code": "' + "x" * 160 + '"}}'
    assert len(body) == 202
    assert error(api.put(f"{ACTIONS}/a", data=body), 413) == "Request larger than allowed: 202 > 200 bytes."
    huge = '{"exec": {"kind": "python:3", "code": "' + "x" * 300 + '"}}'
    assert error(api.put(f"{ACTIONS}/a", data=huge), 413) == "The request content was too large."


# --- sequences (created here; they run as composition steps, which this app cannot start) ------------------


def test_sequence_create_and_invoke_without_compositions_is_503(api: Api) -> None:
    api.action("a")
    api.action("b")
    seq = ok(api.put(f"{ACTIONS}/s", {"exec": {"kind": "sequence", "components": ["/_/a", f"/{api.ns}/b"]}}))
    assert seq["exec"] == {"kind": "sequence", "components": [f"/{api.ns}/a", f"/{api.ns}/b"]}
    assert seq["parameters"] == [{"key": "_actions", "value": [f"/{api.ns}/a", f"/{api.ns}/b"]}]
    response = api.post(f"{ACTIONS}/s", {}, query={"blocking": "true"})
    assert error(response, 503) == ("The server is currently unavailable (because it is overloaded or down for "
                                    "maintenance).")
    assert [key for _, key in api.dispatcher.steps if key.startswith(f"{api.ns}|")] == [f"{api.ns}|{api.ns}/s"]


@pytest.mark.parametrize(("components", "message"), [
    ([], "No component specified for the sequence."),
    (["/_/missing"], "Sequence component does not exist."),
    (["a"], "The request content was malformed:\nThe fully qualified name of the entity must contain at least "
            "the namespace and the name of the entity."),
    (["/_/s"], "Sequence may not refer to itself."),
    (["/_/a"] * 51, "Too many actions in the sequence."),
])
def test_bad_sequences_are_400(api: Api, components: list[str], message: str) -> None:
    api.action("a")
    response = api.put(f"{ACTIONS}/s", {"exec": {"kind": "sequence", "components": components}})
    assert error(response, 400) == message


def test_a_sequence_of_anothers_private_action_is_403(api: Api) -> None:
    api.package("p", auth=api.other)
    api.action("p/a", auth=api.other)
    response = api.put(f"{ACTIONS}/s", {"exec": {"kind": "sequence", "components": [f"/{api.other_ns}/p/a"]}})
    assert error(response, 403) == f"The supplied authentication is not authorized to access '{api.other_ns}/p'."
