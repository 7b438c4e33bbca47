"""``/namespaces/{ns}/packages``: packages and bindings, their CRUD, the bad bindings OpenWhisk refuses, and who may
read what across namespaces (a private or missing package looks the same to a non-owner: 403)."""

from __future__ import annotations

import pytest

from tests.api.conftest import NS, Api, MakeApi, as_dict, error, kv, next_ms, ok

pytestmark = pytest.mark.api

PKG = f"{NS}/packages"
PY = {"kind": "python:3", "code": "def main(a):\n    return a\n"}


def test_package_crud_with_actions_and_feeds(api: Api) -> None:
    created = api.package("p", parameters=kv(a=1), annotations=kv(description="d"))
    assert created == {"namespace": api.ns, "name": "p", "version": "0.0.1", "publish": False,
                       "annotations": kv(description="d"), "parameters": kv(a=1), "binding": {},
                       "updated": created["updated"]}
    assert error(api.put(f"{PKG}/p", {}), 409) == "resource already exists"
    updated = ok(api.put(f"{PKG}/p", {"publish": True}, query={"overwrite": "true"}))
    assert updated["version"] == "0.0.2" and updated["publish"] is True
    assert updated["parameters"] == kv(a=1) and updated["annotations"] == kv(description="d")  # kept

    api.action("p/echo")
    api.action("p/feed", annotations=kv(feed=True))
    got = ok(api.get(f"{PKG}/p"))
    assert [a["name"] for a in got["actions"]] == ["echo"]
    assert [f["name"] for f in got["feeds"]] == ["feed"]
    assert set(got["actions"][0]) == {"name", "version", "annotations"}

    refused = api.delete(f"{PKG}/p")
    assert error(refused, 409) == "Package not empty (contains 2 entities). Set force param or delete package contents."
    ok(api.get(f"{PKG}/p"))  # nothing deleted
    forced = ok(api.delete(f"{PKG}/p", query={"force": "true"}))
    assert forced["name"] == "p" and forced["version"] == "0.0.2"
    assert error(api.get(f"{PKG}/p"), 404) == "The requested resource does not exist."
    error(api.get(f"{NS}/actions/p/echo"), 404)
    assert error(api.delete(f"{PKG}/p"), 404) == "The requested resource does not exist."


def test_list_newest_first_with_paging_and_count(api: Api) -> None:
    api.package("c")
    next_ms()
    api.package("b", publish=True)
    next_ms()
    api.package("a", binding={"namespace": "_", "name": "c"})
    listed = ok(api.get(PKG))
    assert [p["name"] for p in listed] == ["a", "b", "c"]
    assert listed[2] == {"namespace": api.ns, "name": "c", "version": "0.0.1", "publish": False,
                         "annotations": [], "binding": False, "updated": listed[2]["updated"]}
    assert listed[0]["binding"] == {"namespace": api.ns, "name": "c"}
    assert [p["name"] for p in ok(api.get(PKG, query={"limit": 1, "skip": 1}))] == ["b"]
    assert ok(api.get(PKG, query={"count": "true"})) == {"packages": 3}


def test_reserved_and_bad_names(api: Api) -> None:
    assert error(api.put(f"{PKG}/default", {}), 400) == "Package name 'default' is reserved."
    assert error(api.put(f"{PKG}/%20x", {}), 400) == "The name of the entity contains illegal characters."
    assert error(api.get(f"{PKG}/x%20"), 400) == "The name of the entity contains illegal characters."
    assert error(api.put(f"{PKG}/{'p' * 257}", {}), 400) == "Name segement longer than allowed: 257 > 256."


@pytest.mark.parametrize(("body", "message"), [
    ({"binding": "p"}, "The request content was malformed:\nbinding: "),
    ({"parameters": {"a": 1}}, "The request content was malformed:\nparameters: "),
    ({"publish": "maybe"}, "The request content was malformed:\npublish: "),
    ({"binding": {"namespace": "_", "name": "bad name!"}},
     "The request content was malformed:\nbinding: The name of the entity contains illegal characters."),
])
def test_bad_bodies_are_400(api: Api, body: dict[str, object], message: str) -> None:
    assert error(api.put(f"{PKG}/x", body), 400).startswith(message)
    error(api.get(f"{PKG}/x"), 404)


def test_bad_bindings(api: Api) -> None:
    missing = api.put(f"{PKG}/b", {"binding": {"namespace": api.ns, "name": "nothing"}})
    assert error(missing, 400) == "Binding references a package that does not exist."
    api.package("p")
    bound = api.package("b", binding={"namespace": "_", "name": "p"}, annotations=kv(binding="ignored"))
    assert bound["binding"] == {"namespace": api.ns, "name": "p"}
    assert as_dict(bound["annotations"]) == {"binding": {"namespace": api.ns, "name": "p"}}
    to_binding = api.put(f"{PKG}/bb", {"binding": {"namespace": api.ns, "name": "b"}})
    assert error(to_binding, 400) == "Cannot bind to another package binding."
    api.action("act")
    to_action = api.put(f"{PKG}/ba", {"binding": {"namespace": api.ns, "name": "act"}})
    assert error(to_action, 409) == "Cannot bind to a resource that is not a package."
    api.package("other")
    convert = api.put(f"{PKG}/p", {"binding": {"namespace": api.ns, "name": "other"}}, query={"overwrite": "true"})
    assert error(convert, 409) == "Resource is a package and cannot be converted into a binding."
    unbind = api.put(f"{PKG}/b", {"binding": {}}, query={"overwrite": "true"})
    assert error(unbind, 409) == "Resource is a binding and cannot be converted into a package."
    assert error(api.put(f"{NS}/actions/b/x", {"exec": PY}), 400) == "Operation not permitted on package binding."
    api.trigger("t")
    assert error(api.get(f"{PKG}/t"), 409) == "Resource by this name exists but is not in this collection."


def test_a_binding_shows_the_bound_actions_and_merged_parameters(api: Api) -> None:
    api.package("p", parameters=kv(a="package", b="package"))
    api.action("p/echo")
    api.package("b", binding={"namespace": "_", "name": "p"}, parameters=kv(b="binding"))
    shown = ok(api.get(f"{PKG}/b"))
    assert shown["binding"] == {"namespace": api.ns, "name": "p"}
    assert as_dict(shown["parameters"]) == {"a": "package", "b": "binding"}
    assert [a["name"] for a in shown["actions"]] == ["echo"]
    via = ok(api.get(f"{NS}/actions/b/echo"))
    assert as_dict(via["parameters"]) == {"a": "package", "b": "binding"}
    assert ok(api.delete(f"{PKG}/b"))["name"] == "b"  # a binding holds nothing: deleted without force
    ok(api.get(f"{PKG}/p"))


def test_sharing_across_namespaces(api: Api) -> None:
    owner = api.ns
    api.package("pub", publish=True, parameters=kv(shared="yes"))
    api.action("pub/echo")
    api.package("private")
    api.action("private/echo")
    api.package("pubbind", publish=True, binding={"namespace": "_", "name": "pub"})
    theirs = f"/api/v1/namespaces/{owner}"
    denied = f"The supplied authentication is not authorized to access '{owner}/"

    listed = ok(api.get(f"{theirs}/packages", auth=api.other))
    assert [p["name"] for p in listed] == ["pub"]  # public, never a binding
    assert ok(api.get(f"{theirs}/packages", query={"count": "true"}, auth=api.other)) == {"packages": 1}
    assert ok(api.get(f"{theirs}/packages/pub", auth=api.other))["actions"][0]["name"] == "echo"
    assert error(api.get(f"{theirs}/packages/private", auth=api.other), 403) == f"{denied}private'."
    assert error(api.get(f"{theirs}/packages/nothing", auth=api.other), 403) == f"{denied}nothing'."
    assert error(api.get(f"{theirs}/packages/pubbind", auth=api.other), 403) == f"{denied}pubbind'."
    assert error(api.get(f"{theirs}/actions/private/echo", auth=api.other), 403) == f"{denied}private'."
    assert error(api.post(f"{theirs}/actions/nothing/echo", auth=api.other), 403) == f"{denied}nothing'."
    assert error(api.get(f"{theirs}/actions/private/", auth=api.other), 403) == f"{denied}private'."
    assert ok(api.get(f"{theirs}/actions/pub/echo", auth=api.other))["namespace"] == f"{owner}/pub"
    assert [a["name"] for a in ok(api.get(f"{theirs}/actions/pub/", auth=api.other))] == ["echo"]

    # no writes into someone else's namespace, public package or not
    assert error(api.put(f"{theirs}/actions/pub/x", {"exec": PY}, auth=api.other), 403) == f"{denied}pub/x'."
    assert error(api.delete(f"{theirs}/actions/pub/echo", auth=api.other), 403) == f"{denied}pub/echo'."
    assert error(api.delete(f"{theirs}/packages/pub", auth=api.other), 403) == f"{denied}pub'."
    assert error(api.put(f"{theirs}/packages/y", {}, auth=api.other), 403) == f"{denied}y'."

    # bindings of one's own to another's packages: public ones only
    refused = api.put(f"{PKG}/b", {"binding": {"namespace": owner, "name": "private"}}, auth=api.other)
    assert error(refused, 403) == f"{denied}private'."
    refused = api.put(f"{PKG}/b", {"binding": {"namespace": owner, "name": "nothing"}}, auth=api.other)
    assert error(refused, 403) == f"{denied}nothing'."
    bound = api.package("b", binding={"namespace": owner, "name": "pub"}, parameters=kv(mine=1), auth=api.other)
    assert bound["namespace"] == api.other_ns
    assert [a["name"] for a in ok(api.get(f"{NS}/actions/b/", auth=api.other))] == ["echo"]
    via = ok(api.post(f"{NS}/actions/b/echo", {}, query={"blocking": "true", "result": "true"}, auth=api.other))
    assert via == {"shared": "yes", "mine": 1}


def test_a_binding_whose_package_turned_private_is_403(api: Api) -> None:
    api.package("pub", publish=True)
    api.action("pub/echo")
    api.package("b", binding={"namespace": api.ns, "name": "pub"}, auth=api.other)
    api.put(f"{PKG}/pub", {"publish": False}, query={"overwrite": "true"})
    denied = f"The supplied authentication is not authorized to access '{api.other_ns}/b'."
    assert error(api.get(f"{PKG}/b", auth=api.other), 403) == denied
    assert error(api.post(f"{NS}/actions/b/echo", {}, auth=api.other), 403) == denied


def test_bodies_over_twice_the_payload_limit_are_413(make_api: MakeApi) -> None:
    api = make_api(limits={"payload_bytes": 100})
    fits = api.package("p", parameters=kv(blob="x" * 150))
    assert fits["parameters"] == kv(blob="x" * 150)
    body = '{"parameters": [{"key": "blob", "value": "' + "x" * 160 + '"}]}'
    assert error(api.put(f"{PKG}/q", data=body), 413) == f"Request larger than allowed: {len(body)} > 200 bytes."
