"""Error answers across collections: malformed bodies, paging parameters, missing entities, and inputs the
controller must refuse with a 4xx envelope, never a 500. (``Api.request`` checks every envelope's shape.)"""

from __future__ import annotations

import pytest

from tests.api.conftest import NS, Api, error, ok

pytestmark = pytest.mark.api

MALFORMED = "The request content was malformed:\n"

# Every route that reads a JSON body.
BODY_ROUTES = [
    ("PUT", f"{NS}/actions/a"),
    ("POST", f"{NS}/actions/a"),
    ("PUT", f"{NS}/packages/p"),
    ("PUT", f"{NS}/triggers/t"),
    ("POST", f"{NS}/triggers/t"),
    ("PUT", f"{NS}/rules/r"),
    ("POST", f"{NS}/rules/r"),
    ("PUT", f"{NS}/alarms/t"),
    ("POST", f"{NS}/alarms/t"),
]


def _id(route: tuple[str, str]) -> str:
    return f"{route[0]} {route[1].removeprefix(NS)}"


@pytest.mark.parametrize("route", BODY_ROUTES, ids=_id)
@pytest.mark.parametrize("body", [b"{not json", b'{"a": 1', b"\xff\xfe\x00", b"{'a': 1}", b"[1,]"],
                         ids=["garbage", "unclosed", "not-utf8", "single-quotes", "trailing-comma"])
def test_malformed_json_is_400(api: Api, route: tuple[str, str], body: bytes) -> None:
    method, path = route
    assert error(api.request(method, path, data=body), 400).startswith(MALFORMED)


@pytest.mark.parametrize(("route", "message"), [
    (("POST", f"{NS}/actions/a"), f"{MALFORMED}the payload must be a JSON object"),
    (("POST", f"{NS}/triggers/t"), f"{MALFORMED}the payload must be a JSON object"),
    (("PUT", f"{NS}/actions/a"), f"{MALFORMED}expected a JSON object"),
    (("PUT", f"{NS}/packages/p"), f"{MALFORMED}expected a JSON object"),
    (("PUT", f"{NS}/triggers/t"), f"{MALFORMED}expected a JSON object"),
    (("PUT", f"{NS}/rules/r"), f"{MALFORMED}expected a JSON object"),
    (("POST", f"{NS}/rules/r"), f"{MALFORMED}expected a JSON object"),
    (("PUT", f"{NS}/alarms/t"), f"{MALFORMED}expected a JSON object"),
    (("POST", f"{NS}/alarms/t"), f"{MALFORMED}expected a JSON object"),
], ids=lambda value: _id(value) if isinstance(value, tuple) else "")
@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"42", b"true"])
def test_a_body_that_is_not_an_object_is_400(api: Api, route: tuple[str, str], message: str, body: bytes) -> None:
    api.action("a")
    api.trigger("t")
    api.rule("r", "/_/t", "/_/a")
    method, path = route
    assert error(api.request(method, path, data=body), 400) == message


def test_an_empty_body_is_an_empty_object(api: Api) -> None:
    assert ok(api.put(f"{NS}/triggers/t", data=b""))["name"] == "t"
    assert ok(api.put(f"{NS}/packages/p", data=b"  \n"))["name"] == "p"
    assert api.post(f"{NS}/triggers/t", data=b"").status_code == 204


COLLECTIONS = ["actions", "packages", "triggers", "rules", "activations"]


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize(("query", "message"), [
    ({"limit": "201"}, "The value '201' is not in the range of 0 to 200 for {c}."),
    ({"limit": "-1"}, "The value '-1' is not in the range of 0 to 200 for {c}."),
    ({"limit": "ten"}, "The value 'ten' is not an integer for {c}."),
    ({"limit": "1.5"}, "The value '1.5' is not an integer for {c}."),
    ({"skip": "-1"}, "The value '-1' is not a non-negative integer for {c}."),
    ({"skip": "x"}, "The value 'x' is not an integer for {c}."),
])
def test_bad_paging_is_400(api: Api, collection: str, query: dict[str, str], message: str) -> None:
    response = api.get(f"{NS}/{collection}", query=query)
    assert error(response, 400) == message.format(c=collection)


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_paging_bounds_are_accepted(api: Api, collection: str) -> None:
    for query in ({"limit": "200"}, {"limit": "0"}, {"skip": "0"}, {"limit": ""}, {"skip": "1000"}):
        assert ok(api.get(f"{NS}/{collection}", query=query)) == [], query


@pytest.mark.parametrize("path", [f"{NS}/actions/x", f"{NS}/packages/x", f"{NS}/triggers/x", f"{NS}/rules/x",
                                  f"{NS}/activations/{'f' * 32}", f"{NS}/actions/x/"])
def test_missing_entities_are_404(api: Api, path: str) -> None:
    assert error(api.get(path), 404) == "The requested resource does not exist."


@pytest.mark.parametrize("path", [f"{NS}/actions/x", f"{NS}/packages/x", f"{NS}/triggers/x", f"{NS}/rules/x"])
def test_deleting_a_missing_entity_is_404(api: Api, path: str) -> None:
    assert error(api.delete(path), 404) == "The requested resource does not exist."


# --- inputs that were answered with a 500 (issue 14, finding 6); more in test_strict_json.py


@pytest.mark.parametrize("collection", ["actions", "activations"])
def test_a_huge_skip_is_not_a_500(api: Api, collection: str) -> None:
    assert api.get(f"{NS}/{collection}", query={"skip": str(2**64)}).status_code in (200, 400)


def test_a_huge_since_is_not_a_500(api: Api) -> None:
    assert api.get(f"{NS}/activations", query={"since": str(2**64)}).status_code in (200, 400)


def test_a_deeply_nested_body_is_not_a_500(api: Api) -> None:
    assert error(api.put(f"{NS}/triggers/t", data=b"[" * 100_000), 400).startswith(MALFORMED)


def test_nan_is_not_json(api: Api) -> None:
    body = b'{"parameters": [{"key": "a", "value": NaN}]}'
    assert error(api.put(f"{NS}/triggers/t", data=body), 400).startswith(MALFORMED)


@pytest.mark.parametrize("body", [{"kind": "once", "date": 1e300},
                                  {"kind": "alarm", "cron": "* * * * *", "startDate": 2**70}])
def test_an_alarm_date_out_of_range_is_400(api: Api, body: dict[str, object]) -> None:
    api.trigger("t")
    error(api.put(f"{NS}/alarms/t", body), 400)
