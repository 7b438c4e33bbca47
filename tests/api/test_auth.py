"""Authentication (basic ``uuid:key``, 401) on every authenticated route, and entitlement (403) on every route into
another namespace: the answer never says whether the resource exists."""

from __future__ import annotations

import base64

import pytest

from tests.api.conftest import GUEST, NO_AUTH, NS, Api, error, ok

pytestmark = pytest.mark.api

AID = "0123456789abcdef0123456789abcdef"
MISSING = "The resource requires authentication, which was not supplied with the request"
INVALID = "The supplied authentication is invalid"

# Every route behind authentication: method, path ("{ns}" the namespace, "{name}" the entity) and the name of an
# entity of the owner's that exists (``_owned_entities``), if the route names one.
ROUTES = [
    ("GET", "/api/v1/namespaces", None),
    ("GET", "/api/v1/namespaces/{ns}/limits", None),
    ("GET", "/api/v1/namespaces/{ns}/actions", None),
    ("GET", "/api/v1/namespaces/{ns}/actions/{name}", "a"),
    ("GET", "/api/v1/namespaces/{ns}/actions/{name}/", "p"),
    ("PUT", "/api/v1/namespaces/{ns}/actions/{name}", "a"),
    ("DELETE", "/api/v1/namespaces/{ns}/actions/{name}", "a"),
    ("POST", "/api/v1/namespaces/{ns}/actions/{name}", "a"),
    ("GET", "/api/v1/namespaces/{ns}/activations", None),
    ("GET", "/api/v1/namespaces/{ns}/activations/{name}", AID),
    ("GET", "/api/v1/namespaces/{ns}/activations/{name}/result", AID),
    ("GET", "/api/v1/namespaces/{ns}/activations/{name}/logs", AID),
    ("GET", "/api/v1/namespaces/{ns}/packages", None),
    ("GET", "/api/v1/namespaces/{ns}/packages/{name}", "p"),
    ("PUT", "/api/v1/namespaces/{ns}/packages/{name}", "p"),
    ("DELETE", "/api/v1/namespaces/{ns}/packages/{name}", "p"),
    ("GET", "/api/v1/namespaces/{ns}/triggers", None),
    ("GET", "/api/v1/namespaces/{ns}/triggers/{name}", "t"),
    ("PUT", "/api/v1/namespaces/{ns}/triggers/{name}", "t"),
    ("DELETE", "/api/v1/namespaces/{ns}/triggers/{name}", "t"),
    ("POST", "/api/v1/namespaces/{ns}/triggers/{name}", "t"),
    ("GET", "/api/v1/namespaces/{ns}/rules", None),
    ("GET", "/api/v1/namespaces/{ns}/rules/{name}", "r"),
    ("PUT", "/api/v1/namespaces/{ns}/rules/{name}", "r"),
    ("POST", "/api/v1/namespaces/{ns}/rules/{name}", "r"),
    ("DELETE", "/api/v1/namespaces/{ns}/rules/{name}", "r"),
    ("GET", "/api/v1/namespaces/{ns}/alarms/{name}", "t"),
    ("PUT", "/api/v1/namespaces/{ns}/alarms/{name}", "t"),
    ("POST", "/api/v1/namespaces/{ns}/alarms/{name}", "t"),
    ("DELETE", "/api/v1/namespaces/{ns}/alarms/{name}", "t"),
]
Route = tuple[str, str, str | None]
# A body every PUT and POST above would accept from the owner.
BODY = {"exec": {"kind": "python:3", "code": "x"}, "trigger": "/_/t", "action": "/_/a", "status": "active",
        "kind": "interval", "minutes": 1}


def _owned_entities(api: Api) -> None:
    api.action("a")
    api.package("p")
    api.trigger("t")
    api.rule("r", "/_/t", "/_/a")
    ok(api.put(f"{NS}/alarms/t", {"kind": "interval", "minutes": 1}))
    ok(api.post(f"{NS}/actions/a", {}), 202)  # an activation of the owner's
    api.store.put_activation({**api.store.list_activations(api.ns, None, None, None, 0, 1)[0],
                              "_id": f"{api.ns}/{AID}", "activationId": AID})


def _id(route: Route) -> str:
    return f"{route[0]} {route[1].removeprefix('/api/v1/namespaces')}"


@pytest.mark.parametrize("route", ROUTES, ids=_id)
def test_every_route_wants_valid_credentials(api: Api, route: Route) -> None:
    method, template, name = route
    path = template.format(ns="_", name=name)
    missing = api.request(method, path, auth=NO_AUTH, json=BODY)
    assert error(missing, 401) == MISSING
    assert missing.headers["WWW-Authenticate"] == 'Basic realm="OpenWhisk secure realm"'
    assert error(api.request(method, path, auth=(api.auth[0], "x" * 64)), 401) == INVALID  # wrong key
    assert error(api.request(method, path, auth=(api.other[0], api.auth[1])), 401) == INVALID  # another's key
    assert error(api.request(method, path, auth=("nobody", "x")), 401) == INVALID  # unknown uuid
    assert error(api.request(method, path, auth=(api.auth[0], "")), 401) == INVALID  # no key
    bearer = api.request(method, path, auth=NO_AUTH, headers={"Authorization": f"Bearer {api.auth[1]}"})
    assert error(bearer, 401) == MISSING
    garbled = api.request(method, path, auth=NO_AUTH, headers={"Authorization": "Basic !!not-base64!!"})
    assert error(garbled, 401) == MISSING


def test_valid_credentials_pass(api: Api) -> None:
    assert ok(api.get("/api/v1/namespaces")) == [api.ns]
    assert ok(api.get("/api/v1/namespaces", auth=GUEST)) == ["guest"]  # the seeded well-known key
    token = base64.b64encode(f"{api.auth[0]}:{api.auth[1]}".encode()).decode()
    by_header = api.get("/api/v1/namespaces", auth=NO_AUTH, headers={"Authorization": f"Basic {token}"})
    assert ok(by_header) == [api.ns]


def test_a_blocked_subject_is_refused_at_once(api: Api) -> None:
    api.identities.set_blocked(api.ns, True)
    assert error(api.get("/api/v1/namespaces"), 401) == INVALID
    assert ok(api.get("/api/v1/namespaces", auth=api.other)) == [api.other_ns]
    api.identities.set_blocked(api.ns, False)
    assert ok(api.get("/api/v1/namespaces")) == [api.ns]


def test_a_rotated_key_stops_working(api: Api) -> None:
    new = api.identities.rotate_key(api.ns, api.ns).split(":", 1)
    assert error(api.get("/api/v1/namespaces"), 401) == INVALID
    assert ok(api.get("/api/v1/namespaces", auth=(new[0], new[1]))) == [api.ns]


# Routes into another namespace that must answer 403, whether the entity exists or not. (Reading another
# namespace's packages list is allowed: it shows the public ones, see test_packages.)
FORBIDDEN = [route for route in ROUTES if "{ns}" in route[1] and route[1] != "/api/v1/namespaces/{ns}/packages"]


@pytest.mark.parametrize("route", FORBIDDEN, ids=_id)
def test_another_namespace_is_403_whether_or_not_it_exists(api: Api, route: Route) -> None:
    method, template, name = route
    _owned_entities(api)
    names = [name, "zz" if name != AID else "f" * 32] if name else [None]
    for each in names:
        response = api.request(method, template.format(ns=api.ns, name=each), auth=api.other, json=BODY)
        message = error(response, 403)
        assert message.startswith(f"The supplied authentication is not authorized to access '{api.ns}"), message
    mine = api.request(method, template.format(ns=api.ns, name=name), json=BODY, query={"overwrite": "true"})
    assert mine.status_code < 300, mine.get_json()  # the owner may


@pytest.mark.parametrize(("path", "resource"), [
    ("actions/a", "/a"),
    ("packages/p", "/p"),
    ("triggers/t", "/t"),
    ("rules/r", "/r"),
    ("activations", ""),
    ("limits", ""),
])
def test_forbidden_messages_name_the_resource(api: Api, path: str, resource: str) -> None:
    response = api.get(f"/api/v1/namespaces/{api.ns}/{path}", auth=api.other)
    assert error(response, 403) == f"The supplied authentication is not authorized to access '{api.ns}{resource}'."


def test_the_owner_is_not_refused(api: Api) -> None:
    api.action("a")
    for path in ("actions/a", "activations", "limits"):
        assert api.get(f"/api/v1/namespaces/{api.ns}/{path}").status_code == 200, path
