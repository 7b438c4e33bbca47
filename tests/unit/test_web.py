"""``app.core.web``: the web-action rules as pure functions, one case per row of OpenWhisk's tables (docs/webactions.md,
``WebActions.scala``), and the owner look-up's cache in ``IdentityService``."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from app.core.entities import Status
from app.core.errors import Invalid, NotFound, StoreUnavailable
from app.core.identities import Identity, Subject
from app.core.services import IdentityService
from app.core.web import (
    WebRequest,
    WebResponse,
    WebTarget,
    action_input,
    answer,
    cors_headers,
    extra_path,
    immutable_parameters,
    is_authorized,
    overrides,
    parse_target,
    request_body,
)

pytestmark = pytest.mark.unit

TID = "t" * 32

# --- the target -------------------------------------------------------------------------------------------------

TARGETS: list[tuple[str, WebTarget]] = [
    ("default/a", WebTarget(None, "a", ".http", "")),
    ("default/a.json", WebTarget(None, "a", ".json", "")),
    ("default/a.html", WebTarget(None, "a", ".html", "")),
    ("default/a.svg", WebTarget(None, "a", ".svg", "")),
    ("default/a.text", WebTarget(None, "a", ".text", "")),
    ("default/a.http", WebTarget(None, "a", ".http", "")),
    ("default/a.xml", WebTarget(None, "a.xml", ".http", "")),
    ("pkg/a.json/some/field", WebTarget("pkg", "a", ".json", "/some/field")),
    ("pkg/a.b.json", WebTarget("pkg", "a.b", ".json", "")),
    ("default/a/", WebTarget(None, "a", ".http", "/")),
]


@pytest.mark.parametrize(("target", "expected"), TARGETS)
def test_parse_target(target: str, expected: WebTarget) -> None:
    assert parse_target(target) == expected
    assert extra_path(target) == expected.path


@pytest.mark.parametrize("target", ["default", "", "default/", "default/.json", "de fault /a", "default/ a",
                                    "x" * 300 + "/a"])
def test_parse_target_not_found(target: str) -> None:
    with pytest.raises(NotFound):
        parse_target(target)


# --- the body ---------------------------------------------------------------------------------------------------

BODIES: list[tuple[str, bool, str | None, bytes, tuple[bool, Any]]] = [
    # (case, raw, content type, body, (present, value))
    ("empty", False, "application/json", b"", (False, None)),
    ("empty raw", True, None, b"", (True, "")),
    ("json object", False, "application/json", b'{"a": 1}', (True, {"a": 1})),
    ("json with charset", False, "application/json; charset=utf-8", b"[1]", (True, [1])),
    ("json string", False, "application/json", b'"s"', (True, "s")),
    ("json family", False, "application/vnd.api+json", b'{"a": 1}', (True, {"a": 1})),
    ("json blank", False, "application/json", b"  ", (False, None)),
    ("form", False, "application/x-www-form-urlencoded", b"a=1&b=%20x&a=2", (True, {"a": "2", "b": " x"})),
    ("text", False, "text/plain", "héllo".encode(), (True, "héllo")),
    ("xml text", False, "application/xml", b"<a/>", (True, "<a/>")),
    ("javascript text", False, "application/javascript", b"x()", (True, "x()")),
    ("binary", False, "application/octet-stream", b"\x00\xff", (True, "AP8=")),
    ("image", False, "image/png", b"\x89P", (True, base64.b64encode(b"\x89P").decode())),
    ("no content type is binary", False, None, b"ab", (True, "YWI=")),
    ("bad content type is binary", False, "nonsense", b"ab", (True, "YWI=")),
    ("raw json is base64", True, "application/json", b'{"a":1}', (True, base64.b64encode(b'{"a":1}').decode())),
    ("raw +json is text", True, "application/vnd.api+json", b'{"a":1}', (True, '{"a":1}')),
    ("raw form is text", True, "application/x-www-form-urlencoded", b"a=1", (True, "a=1")),
    ("raw text", True, "text/csv", b"a,b", (True, "a,b")),
    ("raw binary", True, "application/zip", b"PK", (True, "UEs=")),
]


@pytest.mark.parametrize(("raw", "content_type", "body", "expected"), [row[1:] for row in BODIES],
                         ids=[row[0] for row in BODIES])
def test_request_body(raw: bool, content_type: str | None, body: bytes, expected: tuple[bool, Any]) -> None:
    headers = {"content-type": content_type} if content_type else {}
    assert request_body(WebRequest("POST", headers, body=body), raw) == expected


@pytest.mark.parametrize("body", [b"{nope", b"NaN", b'"\\ud800"'])
def test_request_body_not_json_is_invalid(body: bytes) -> None:
    with pytest.raises(Invalid, match="The request content was malformed:"):
        request_body(WebRequest("POST", {"content-type": "application/json"}, body=body), False)


# --- the input --------------------------------------------------------------------------------------------------


def test_action_input_merges_query_then_body_over_the_request_fields() -> None:
    request = WebRequest("PATCH", {"x-a": "1"}, "/p", "a=q&b=q")
    got = action_input(request, raw=False, body=(True, {"b": "body"}), user="alice", extra={"id": "7", "a": "x"})
    assert got == {"id": "7", "a": "q", "b": "body", "__ow_method": "patch", "__ow_headers": {"x-a": "1"},
                   "__ow_path": "/p", "__ow_user": "alice"}


def test_action_input_non_object_body_is_ow_body() -> None:
    got = action_input(WebRequest("POST"), raw=False, body=(True, [1]), user=None)
    assert got == {"__ow_method": "post", "__ow_headers": {}, "__ow_path": "", "__ow_body": [1]}


def test_action_input_raw_merges_nothing() -> None:
    got = action_input(WebRequest("GET", query="a=1"), raw=True, body=(True, ""), user=None)
    assert got == {"__ow_method": "get", "__ow_headers": {}, "__ow_path": "", "__ow_query": "a=1", "__ow_body": ""}


OVERRIDES: list[tuple[str, str, Any, dict[str, Any] | None, bool]] = [
    ("reserved in query", "__ow_method=x", None, None, True),
    ("reserved in body", "", {"__ow_body": 1}, None, True),
    ("final in query", "p=1", None, None, True),
    ("final in extra", "", None, {"p": 1}, True),
    ("nothing forbidden", "a=1", {"b": 1}, {"c": 1}, False),
    ("body not an object", "", ["__ow_body"], None, False),
]


@pytest.mark.parametrize(("query", "body", "extra", "expected"), [row[1:] for row in OVERRIDES],
                         ids=[row[0] for row in OVERRIDES])
def test_overrides(query: str, body: Any, extra: dict[str, Any] | None, expected: bool) -> None:
    forbidden = frozenset({"__ow_method", "__ow_body", "p"})
    assert overrides(WebRequest("GET", query=query), body, forbidden, extra) is expected


def test_immutable_parameters_only_with_final_and_a_value() -> None:
    params = {"a": 1, "b": None}
    assert immutable_parameters([{"key": "final", "value": True}], params) == {"a"}
    assert immutable_parameters([{"key": "final", "value": "true"}], params) == frozenset()
    assert immutable_parameters([], params) == frozenset()


# --- who may call -----------------------------------------------------------------------------------------------

AUTH: list[tuple[str, Any, dict[str, str], bool, bool]] = [
    # (case, require-whisk-auth, headers, authenticated, allowed)
    ("absent", None, {}, False, True),
    ("false", False, {}, False, True),
    ("true and a key", True, {}, True, True),
    ("true without", True, {}, False, False),
    ("string matched", "s", {"x-require-whisk-auth": "s"}, False, True),
    ("string wrong", "s", {"x-require-whisk-auth": "S"}, True, False),
    ("number matched", 42, {"x-require-whisk-auth": "42"}, False, True),
    ("number wrong", 42, {"x-require-whisk-auth": "42.0"}, False, False),
    ("object", {"a": 1}, {}, True, False),
]


@pytest.mark.parametrize(("required", "headers", "authenticated", "allowed"), [row[1:] for row in AUTH],
                         ids=[row[0] for row in AUTH])
def test_is_authorized(required: Any, headers: dict[str, str], authenticated: bool, allowed: bool) -> None:
    annotations = [] if required is None else [{"key": "require-whisk-auth", "value": required}]
    assert is_authorized(annotations, headers, authenticated) is allowed


def test_cors_headers_echo_requested_headers() -> None:
    assert dict(cors_headers(WebRequest("GET")))["Access-Control-Allow-Headers"].startswith("Authorization")
    asked = WebRequest("GET", {"access-control-request-headers": "X-A"})
    assert dict(cors_headers(asked))["Access-Control-Allow-Headers"] == "X-A"


# --- the answer -------------------------------------------------------------------------------------------------

ANSWERS: list[tuple[str, str, Any, int, str | None, bytes]] = [
    # (case, extension, result, status, content type, body)
    ("json object", ".json", {"a": 1}, 200, "application/json", b'{\n  "a": 1\n}'),
    ("json array", ".json", [], 200, "application/json", b"[]"),
    ("html body", ".html", {"body": "<p/>", "html": "x"}, 200, "text/html; charset=UTF-8", b"<p/>"),
    ("html html", ".html", {"html": "<p/>"}, 200, "text/html; charset=UTF-8", b"<p/>"),
    ("svg", ".svg", {"svg": "<svg/>"}, 200, "image/svg+xml", b"<svg/>"),
    ("text string", ".text", {"text": "é"}, 200, "text/plain; charset=UTF-8", "é".encode()),
    ("text array", ".text", {"body": [1]}, 200, "text/plain; charset=UTF-8", b"[\n  1\n]"),
    ("text float", ".text", {"text": 1.5}, 200, "text/plain; charset=UTF-8", b"1.5"),
    ("text of a string result", ".text", "raw", 200, "text/plain; charset=UTF-8", b"raw"),
    ("http default", ".http", {"body": "b"}, 200, "text/html; charset=UTF-8", b"b"),
    ("http 204", ".http", {"headers": {"content-type": "text/plain"}}, 204, None, b""),
    ("http status float", ".http", {"statusCode": 201.0}, 201, None, b""),
    ("http binary", ".http", {"headers": {"Content-Type": "application/pdf"}, "body": "JVBERg"}, 200,
     "application/pdf", b"%PDF"),
    ("http svg is binary", ".http", {"headers": {"content-type": "image/svg+xml"},
                                      "body": base64.b64encode(b"<svg/>").decode()}, 200, "image/svg+xml", b"<svg/>"),
    ("http json non-base64 string", ".http", {"headers": {"content-type": "application/json"}, "body": "{}"},
     200, "application/json", b"{}"),
    ("http json value", ".http", {"body": 12}, 200, "application/json", b"12"),
    ("http json bool", ".http", {"body": False}, 200, "application/json", b"false"),
]


@pytest.mark.parametrize(("extension", "result", "status", "content_type", "body"), [row[1:] for row in ANSWERS],
                         ids=[row[0] for row in ANSWERS])
def test_answer(extension: str, result: Any, status: int, content_type: str | None, body: bytes) -> None:
    got = answer(extension, Status.SUCCESS, result, TID)
    assert (got.status, got.header("content-type"), got.body) == (status, content_type, body)


ANSWER_ERRORS: list[tuple[str, str, Any, int, str]] = [
    ("json string", ".json", "s", 400, "Response is not valid 'application/json'."),
    ("json null", ".json", None, 400, "Response is not valid 'application/json'."),
    ("html missing", ".html", {}, 400, "Response is not valid 'text/html'."),
    ("svg missing", ".svg", {"body": None}, 400, "Response is not valid 'image/svg+xml'."),
    ("text missing", ".text", {}, 404, "Response does not include requested property."),
    ("http array", ".http", [1], 400, "Response is not valid 'message/http'."),
    ("http status bool", ".http", {"statusCode": True}, 400, "Response is not valid 'message/http'."),
    ("http status 99", ".http", {"statusCode": 99}, 400, "Response is not valid 'message/http'."),
    ("http status padded", ".http", {"statusCode": " 200"}, 400, "Response is not valid 'message/http'."),
    ("http header null", ".http", {"headers": {"a": None}}, 400, "Response is not valid 'message/http'."),
    ("http header name", ".http", {"headers": {"a b": "x"}}, 400, "Response is not valid 'message/http'."),
    ("http header not latin-1", ".http", {"headers": {"a": "☃"}}, 400, "Response is not valid 'message/http'."),
    ("http unknown type", ".http", {"headers": {"content-type": "x"}, "body": "b"}, 400,
     "Response did not specify a known content-type."),
    ("http bad base64", ".http", {"headers": {"content-type": "image/png"}, "body": "@@@@"}, 400,
     "Response type in header did not match generated content type."),
    ("http json type for object wrong", ".http", {"headers": {"content-type": "text/html"}, "body": {}}, 400,
     "Response type in header did not match generated content type."),
    ("http unknown type for object", ".http", {"headers": {"content-type": "x"}, "body": {}}, 400,
     "Response type in header did not match generated content type."),
]


@pytest.mark.parametrize(("extension", "result", "status", "message"), [row[1:] for row in ANSWER_ERRORS],
                         ids=[row[0] for row in ANSWER_ERRORS])
def test_answer_error(extension: str, result: Any, status: int, message: str) -> None:
    got = answer(extension, Status.SUCCESS, result, TID)
    assert got.status == status and got.header("content-type") == "application/json"
    assert json.loads(got.body) == {"error": message, "code": TID}


def test_http_headers_in_order_repeated_framing_dropped() -> None:
    got = answer(".http", Status.SUCCESS, {"headers": {"A": ["1", ["2", 3]], "Content-Length": "9",
                                                       "B": 1.5}, "statusCode": 200, "body": "x"}, TID)
    assert got.headers == [("A", "1"), ("A", "2"), ("A", "3"), ("B", "1.5"),
                           ("Content-Type", "text/html; charset=UTF-8")]


OUTCOMES: list[tuple[str, Status, Any, int]] = [
    ("application error field", Status.APPLICATION_ERROR, {"error": {"statusCode": 409}}, 409),
    ("application error without field", Status.APPLICATION_ERROR, {"x": 1}, 404),
    ("developer error", Status.DEVELOPER_ERROR, {"error": "x"}, 400),
    ("whisk error", Status.WHISK_ERROR, {"error": "x"}, 400),
]


@pytest.mark.parametrize(("status", "result", "code"), [row[1:] for row in OUTCOMES], ids=[row[0] for row in OUTCOMES])
def test_answer_by_outcome(status: Status, result: Any, code: int) -> None:
    assert answer(".http", status, result, TID).status == code


def test_web_response_header_lookup() -> None:
    response = WebResponse(200, [("X-A", "1"), ("x-a", "2")])
    assert response.header("x-A") == "1" and response.header("b") is None


# --- the owner look-up ------------------------------------------------------------------------------------------


class Owners:
    """A SubjectStore of one namespace's owner, counting look-ups by namespace."""

    def __init__(self) -> None:
        self.owners = {"team": Identity("alice", "team", "u-1", "h")}
        self.lookups = 0
        self.down = False

    def identity_by_namespace(self, namespace: str) -> Identity:
        self.lookups += 1
        if self.down:
            raise StoreUnavailable("connection refused")
        if namespace not in self.owners:
            raise NotFound()
        return self.owners[namespace]

    def get_subject(self, name: str) -> Subject:
        raise NotFound()

    def put_subject(self, subject: Subject) -> Subject:
        return subject


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_owner_by_namespace_is_cached_and_so_is_its_absence() -> None:
    store, clock = Owners(), Clock()
    identities = IdentityService(store, cache_seconds=5, clock=clock, stale_seconds=60)  # type: ignore[arg-type]
    assert identities.by_namespace("team").subject == "alice"
    assert identities.by_namespace("team").subject == "alice"
    for _ in range(3):
        with pytest.raises(NotFound):
            identities.by_namespace("nobody")
    assert store.lookups == 2
    clock.now = 6
    store.down = True
    assert identities.by_namespace("team").subject == "alice"  # stale while the store is down
    with pytest.raises(StoreUnavailable):
        identities.by_namespace("nobody")  # its absence is not kept past cache_seconds, nor served stale
    clock.now = 70
    with pytest.raises(StoreUnavailable):
        identities.by_namespace("team")  # past stale_seconds


def test_creating_a_namespace_forgets_that_it_was_nobodys() -> None:
    store = Owners()
    identities = IdentityService(store, cache_seconds=5)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        identities.by_namespace("later")
    identities.create("later")
    store.owners["later"] = Identity("later", "later", "u-2", "h")
    assert identities.by_namespace("later").subject == "later"
