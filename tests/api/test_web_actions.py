"""``/api/v1/web/{namespace}/{package|default}/{action}[.ext][/extra/path]`` through Flask's test client: one case
per row of OpenWhisk's input and output rules (docs/webactions.md, after OpenWhisk's ``WebActions.scala``),
``require-whisk-auth``, CORS, packages and bindings, the owner's identity and throttles, and the annotations ``wsk``
sends.

The echo dispatcher's result is the input the controller sent, so ``.json`` of an echo action shows the input
rules; a ``Reply`` makes an action return a chosen result, which drives the output rules.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from werkzeug.test import TestResponse

from app.core.entities import Status
from tests.api.conftest import GUEST, NO_AUTH, NS, Api, Auth, MakeApi, Reply, check_contract, error, kv, ok

pytestmark = pytest.mark.api

WEB = {"web-export": True}
NOT_FOUND = "The requested resource does not exist."
RESERVED = "Request defines parameters that are not allowed (e.g., reserved properties)."
UNAUTHORIZED = "The resource requires authentication, which was not supplied with the request"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\x00binary").decode()


def web_action(api: Api, name: str, annotations: dict[str, Any] | None = None, **extra: Any) -> None:
    api.action(name, annotations=kv(**{**WEB, **(annotations or {})}), **extra)


def call(api: Api, path: str, method: str = "GET", *, auth: Auth = NO_AUTH, query: str = "",
         data: bytes | str | None = None, content_type: str | None = None,
         headers: dict[str, str] | None = None, namespace: str | None = None) -> TestResponse:
    """One request to ``/api/v1/web/<namespace>/<path>`` (no key unless ``auth``)."""
    url = f"/api/v1/web/{namespace or api.ns}/{path}" + (f"?{query}" if query else "")
    kwargs: dict[str, Any] = {"method": method, "headers": headers or {}}
    if auth != NO_AUTH:
        kwargs["auth"] = auth
    if data is not None:
        kwargs["data"] = data
    if content_type is not None:
        kwargs["content_type"] = content_type
    response = api.platform.client.open(url, **kwargs)
    assert response.headers.get("X-Request-ID")
    if response.status_code in (202, 401, 404, 413, 429) or (
            response.status_code == 400 and response.mimetype == "application/json"):
        check_contract(response)
    return response


def echoed(api: Api, path: str = "default/echo.json", **kwargs: Any) -> dict[str, Any]:
    """The input the action got (the echo's result), through ``.json``."""
    response = call(api, path, **kwargs)
    body: dict[str, Any] = ok(response)
    assert len(response.headers["x-openwhisk-activation-id"]) == 32
    return body


def returning(api: Api, name: str, result: Any, status: Status = Status.SUCCESS,
              annotations: dict[str, Any] | None = None) -> None:
    """A web action whose activations end with ``result``."""
    web_action(api, name, annotations)
    api.dispatcher.replies[f"{api.ns}/{name}"] = Reply(result=result, status=status)


# --- input: what the action gets ------------------------------------------------------------------------------

INPUT_ROWS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # (case, request, fields the action's input must hold)
    ("method lower case", {"method": "POST"}, {"__ow_method": "post"}),
    ("put", {"method": "PUT"}, {"__ow_method": "put"}),
    ("delete", {"method": "DELETE"}, {"__ow_method": "delete"}),
    ("patch", {"method": "PATCH"}, {"__ow_method": "patch"}),
    ("no extra path", {}, {"__ow_path": ""}),
    ("query params as strings", {"query": "a=1&b=x&e="}, {"a": "1", "b": "x", "e": ""}),
    ("last repeated query param", {"query": "a=1&a=2"}, {"a": "2"}),
    ("JSON object merged over the query", {"method": "POST", "query": "a=q&b=q", "data": '{"a": "body", "n": 1}',
                                           "content_type": "application/json"}, {"a": "body", "b": "q", "n": 1}),
    ("JSON array under __ow_body", {"method": "POST", "data": "[1, 2]", "content_type": "application/json"},
     {"__ow_body": [1, 2]}),
    ("JSON string under __ow_body", {"method": "POST", "data": '"s"', "content_type": "application/json"},
     {"__ow_body": "s"}),
    ("JSON number under __ow_body", {"method": "POST", "data": "12", "content_type": "application/json"},
     {"__ow_body": 12}),
    ("+json family merged", {"method": "POST", "data": '{"h": true}', "content_type": "application/hal+json"},
     {"h": True}),
    ("form fields merged", {"method": "POST", "query": "a=q", "data": "a=form&b=2",
                            "content_type": "application/x-www-form-urlencoded"}, {"a": "form", "b": "2"}),
    ("text as it is", {"method": "POST", "data": "hello\nworld", "content_type": "text/plain"},
     {"__ow_body": "hello\nworld"}),
    ("xml is text", {"method": "POST", "data": "<a/>", "content_type": "application/xml"}, {"__ow_body": "<a/>"}),
    ("binary in base64", {"method": "POST", "data": b"\x00\x01\xff", "content_type": "application/octet-stream"},
     {"__ow_body": base64.b64encode(b"\x00\x01\xff").decode()}),
    ("image in base64", {"method": "POST", "data": b"\x89PNG", "content_type": "image/png"},
     {"__ow_body": base64.b64encode(b"\x89PNG").decode()}),
]


@pytest.mark.parametrize(("request_", "expected"), [row[1:] for row in INPUT_ROWS],
                         ids=[row[0] for row in INPUT_ROWS])
def test_input_rule(api: Api, request_: dict[str, Any], expected: dict[str, Any]) -> None:
    web_action(api, "echo")
    got = echoed(api, **request_)
    assert {k: got.get(k) for k in expected} == expected
    assert "__ow_user" not in got


def test_input_carries_headers_in_lower_case_with_the_content_type(api: Api) -> None:
    web_action(api, "echo")
    got = echoed(api, method="POST", data="{}", content_type="application/json", headers={"X-Custom-Thing": "V"})
    assert got["__ow_headers"]["x-custom-thing"] == "V"
    assert got["__ow_headers"]["content-type"] == "application/json"
    assert all(name == name.lower() for name in got["__ow_headers"])


def test_empty_json_body_adds_nothing(api: Api) -> None:
    web_action(api, "echo")
    got = echoed(api, method="POST", data="", content_type="application/json")
    assert "__ow_body" not in got and got["__ow_method"] == "post"


def test_extra_path_is_ow_path(api: Api) -> None:
    web_action(api, "echo")
    assert echoed(api, "default/echo.json/some/field")["__ow_path"] == "/some/field"


def test_head_runs_the_action_and_answers_no_body(api: Api) -> None:
    web_action(api, "echo")
    response = call(api, "default/echo.json", "HEAD")
    assert response.status_code == 200 and response.data == b""
    message = api.dispatcher.message(response.headers["x-openwhisk-activation-id"])
    assert isinstance(message.content, dict) and message.content["__ow_method"] == "head"


def test_ow_user_with_a_valid_key_of_any_namespace(api: Api) -> None:
    web_action(api, "echo")
    assert echoed(api, auth=api.other)["__ow_user"] == api.other_ns
    assert echoed(api, auth=api.auth)["__ow_user"] == api.ns


def test_an_invalid_key_is_an_anonymous_caller(api: Api) -> None:
    web_action(api, "echo")
    assert "__ow_user" not in echoed(api, auth=(api.auth[0], "wrong"))


def test_malformed_json_body_is_400(api: Api) -> None:
    web_action(api, "echo")
    response = call(api, "default/echo.json", "POST", data="{nope", content_type="application/json")
    assert error(response, 400).startswith("The request content was malformed:")


@pytest.mark.parametrize("body", [
    '{"a": NaN}', '{"a": Infinity}', '{"a": 1e999}', '{"a": "\\ud800"}', "[" * 200 + "]" * 200,
    '{"a": ' + "9" * 5000 + "}",
], ids=["nan", "infinity", "overflow", "lone-surrogate", "nested-200", "huge-integer"])
def test_a_json_body_that_is_not_strict_json_is_400_and_runs_nothing(api: Api, body: str) -> None:
    """Hostile JSON bodies never reach the action (nor a 500): the same strict reading as the REST API."""
    web_action(api, "echo")
    before = len(api.dispatcher.published)
    response = call(api, "default/echo.json", "POST", data=body, content_type="application/json")
    assert error(response, 400).startswith("The request content was malformed:")
    assert len(api.dispatcher.published) == before


def test_action_parameters_lie_under_the_request(api: Api) -> None:
    web_action(api, "echo", parameters=kv(p="action", q="action"))
    got = echoed(api, query="q=query")
    assert got["p"] == "action" and got["q"] == "query"


RAW_ROWS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("query raw, empty body", {"query": "a=1&b=%20x"}, {"__ow_query": "a=1&b=%20x", "__ow_body": ""}),
    ("JSON in base64", {"method": "POST", "data": '{"a":1}', "content_type": "application/json"},
     {"__ow_body": base64.b64encode(b'{"a":1}').decode(), "__ow_query": ""}),
    ("text as it is", {"method": "POST", "data": "plain", "content_type": "text/plain"}, {"__ow_body": "plain"}),
    ("form as text", {"method": "POST", "data": "a=1", "content_type": "application/x-www-form-urlencoded"},
     {"__ow_body": "a=1"}),
    ("binary in base64", {"method": "POST", "data": b"\x00\xff", "content_type": "application/octet-stream"},
     {"__ow_body": base64.b64encode(b"\x00\xff").decode()}),
    ("reserved names allowed", {"query": "__ow_method=x"}, {"__ow_method": "get", "__ow_query": "__ow_method=x"}),
]


@pytest.mark.parametrize(("request_", "expected"), [row[1:] for row in RAW_ROWS], ids=[row[0] for row in RAW_ROWS])
def test_raw_input_rule(api: Api, request_: dict[str, Any], expected: dict[str, Any]) -> None:
    web_action(api, "echo", {"raw-http": True})
    got = echoed(api, **request_)
    assert {k: got.get(k) for k in expected} == expected
    assert "a" not in got  # nothing merged


@pytest.mark.parametrize("name", ["__ow_method", "__ow_headers", "__ow_path", "__ow_user", "__ow_query",
                                  "__ow_body"])
def test_reserved_parameter_in_query_or_body_is_400(api: Api, name: str) -> None:
    web_action(api, "echo")
    error(call(api, "default/echo.json", query=f"{name}=x"), 400, RESERVED)
    error(call(api, "default/echo.json", "POST", data=json.dumps({name: 1}), content_type="application/json"),
          400, RESERVED)


def test_final_parameters_may_not_be_overridden(api: Api) -> None:
    web_action(api, "fin", {"final": True}, parameters=kv(p="fixed"))
    error(call(api, "default/fin.json", query="p=x"), 400, RESERVED)
    error(call(api, "default/fin.json", "POST", data="p=x", content_type="application/x-www-form-urlencoded"),
          400, RESERVED)
    assert ok(call(api, "default/fin.json", query="other=x"))["p"] == "fixed"
    web_action(api, "open", parameters=kv(p="default"))
    assert ok(call(api, "default/open.json", query="p=x"))["p"] == "x"


def test_body_over_the_payload_limit_is_413(make_api: MakeApi) -> None:
    api = make_api(limits={"payload_bytes": 100})
    web_action(api, "echo")
    assert call(api, "default/echo.json", "POST", data="x" * 100, content_type="text/plain").status_code == 200
    message = error(call(api, "default/echo.json", "POST", data="x" * 101, content_type="text/plain"), 413)
    assert message == "Request larger than allowed: 101 > 100 bytes."


# --- output: how the result becomes the answer ----------------------------------------------------------------

OUTPUT_ROWS: list[tuple[str, str, Any, int, str | None, bytes | None]] = [
    # (case, extension, result, status, content type, body)
    ("json object", ".json", {"a": 1}, 200, "application/json", b'{\n  "a": 1\n}'),
    ("json array", ".json", [1, 2], 200, "application/json", b"[\n  1,\n  2\n]"),
    ("html body", ".html", {"body": "<p>hi</p>"}, 200, "text/html; charset=UTF-8", b"<p>hi</p>"),
    ("html field", ".html", {"html": "<b>x</b>"}, 200, "text/html; charset=UTF-8", b"<b>x</b>"),
    ("html string result", ".html", "<i>s</i>", 200, "text/html; charset=UTF-8", b"<i>s</i>"),
    ("svg field", ".svg", {"svg": "<svg/>"}, 200, "image/svg+xml", b"<svg/>"),
    ("svg body", ".svg", {"body": "<svg></svg>"}, 200, "image/svg+xml", b"<svg></svg>"),
    ("text field", ".text", {"text": "plain"}, 200, "text/plain; charset=UTF-8", b"plain"),
    ("text body over text", ".text", {"body": "b", "text": "t"}, 200, "text/plain; charset=UTF-8", b"b"),
    ("text object pretty", ".text", {"text": {"a": 1}}, 200, "text/plain; charset=UTF-8", b'{\n  "a": 1\n}'),
    ("text boolean", ".text", {"text": True}, 200, "text/plain; charset=UTF-8", b"true"),
    ("text number", ".text", {"text": 42}, 200, "text/plain; charset=UTF-8", b"42"),
    ("text null", ".text", {"text": None}, 200, "text/plain; charset=UTF-8", b"null"),
    ("http html default", ".http", {"body": "<h1>x</h1>"}, 200, "text/html; charset=UTF-8", b"<h1>x</h1>"),
    ("http no body is 204", ".http", {}, 204, None, b""),
    ("http empty body is 204", ".http", {"body": ""}, 204, None, b""),
    ("http null body is 204", ".http", {"body": None, "headers": {"content-type": "text/plain"}}, 204, None, b""),
    ("http status only", ".http", {"statusCode": 201}, 201, None, b""),
    ("http status as string", ".http", {"statusCode": "202", "body": "x"}, 202, "text/html; charset=UTF-8", b"x"),
    ("http non-standard status", ".http", {"statusCode": 444}, 444, None, b""),
    ("http declared text type", ".http", {"headers": {"Content-Type": "text/plain"}, "body": "t"}, 200,
     "text/plain; charset=UTF-8", b"t"),
    ("http binary base64 decoded", ".http", {"headers": {"content-type": "image/png"}, "body": PNG}, 200,
     "image/png", base64.b64decode(PNG)),
    ("http json base64 decoded", ".http", {"headers": {"content-type": "application/json"},
                                           "body": base64.b64encode(b'{"a":1}').decode()}, 200,
     "application/json", b'{"a":1}'),
    ("http json string kept", ".http", {"headers": {"content-type": "application/json"}, "body": '{"a": 1}'},
     200, "application/json", b'{"a": 1}'),
    ("http object body is json", ".http", {"body": {"a": 1}}, 200, "application/json", b'{\n  "a": 1\n}'),
    ("http array body is json", ".http", {"body": [1]}, 200, "application/json", b"[\n  1\n]"),
    ("http +json type", ".http", {"headers": {"content-type": "application/hal+json"}, "body": {"a": 1}}, 200,
     "application/hal+json; charset=UTF-8", b'{\n  "a": 1\n}'),
    ("no extension is http", "", {"body": "default"}, 200, "text/html; charset=UTF-8", b"default"),
]


@pytest.mark.parametrize(("extension", "result", "status", "content_type", "body"),
                         [row[1:] for row in OUTPUT_ROWS], ids=[row[0] for row in OUTPUT_ROWS])
def test_output_rule(api: Api, extension: str, result: Any, status: int, content_type: str | None,
                     body: bytes | None) -> None:
    returning(api, "out", result)
    response = call(api, f"default/out{extension}")
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers.get("Content-Type") == content_type
    assert response.data == body
    assert len(response.headers["x-openwhisk-activation-id"]) == 32


ERROR_ROWS: list[tuple[str, str, Any, int, str]] = [
    # (case, extension, result, status, error)
    ("json of a string", ".json", "s", 400, "Response is not valid 'application/json'."),
    ("json of a number", ".json", 3, 400, "Response is not valid 'application/json'."),
    ("html without a string", ".html", {"x": 1}, 400, "Response is not valid 'text/html'."),
    ("html of a number body", ".html", {"body": 1}, 400, "Response is not valid 'text/html'."),
    ("svg without a string", ".svg", {"x": 1}, 400, "Response is not valid 'image/svg+xml'."),
    ("text without the property", ".text", {"x": 1}, 404, "Response does not include requested property."),
    ("http of a string", ".http", "s", 400, "Response is not valid 'message/http'."),
    ("http bad status", ".http", {"statusCode": "abc"}, 400, "Response is not valid 'message/http'."),
    ("http fractional status", ".http", {"statusCode": 200.5}, 400, "Response is not valid 'message/http'."),
    ("http status out of range", ".http", {"statusCode": 1000}, 400, "Response is not valid 'message/http'."),
    ("http headers not an object", ".http", {"headers": "x"}, 400, "Response is not valid 'message/http'."),
    ("http header an object", ".http", {"headers": {"a": {"b": 1}}}, 400, "Response is not valid 'message/http'."),
    ("http header with a line break", ".http", {"headers": {"a": "x\r\nb: y"}}, 400,
     "Response is not valid 'message/http'."),
    ("http unknown content type", ".http", {"headers": {"content-type": "nonsense"}, "body": "x"}, 400,
     "Response did not specify a known content-type."),
    ("http binary not base64", ".http", {"headers": {"content-type": "image/png"}, "body": "not base64!"}, 400,
     "Response type in header did not match generated content type."),
    ("http object body as text", ".http", {"headers": {"content-type": "text/plain"}, "body": {"a": 1}}, 400,
     "Response type in header did not match generated content type."),
]


@pytest.mark.parametrize(("extension", "result", "status", "message"), [row[1:] for row in ERROR_ROWS],
                         ids=[row[0] for row in ERROR_ROWS])
def test_output_error(api: Api, extension: str, result: Any, status: int, message: str) -> None:
    returning(api, "out", result)
    response = call(api, f"default/out{extension}")
    error(response, status, message)
    assert len(response.headers["x-openwhisk-activation-id"]) == 32


def test_http_headers_repeat_and_take_numbers_and_booleans(api: Api) -> None:
    returning(api, "out", {"statusCode": 302, "headers": {"Location": "http://example.org/",
                                                          "Set-Cookie": ["a=1", "b=2"], "X-N": 7, "X-B": True}})
    response = call(api, "default/out.http")
    assert response.status_code == 302
    assert response.headers["Location"] == "http://example.org/"
    assert response.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert (response.headers["X-N"], response.headers["X-B"]) == ("7", "true")


def test_unknown_extension_is_part_of_the_name(api: Api) -> None:
    returning(api, "page.xml", {"body": "<x/>", "headers": {"content-type": "application/xml"}})
    response = call(api, "default/page.xml")
    assert response.status_code == 200 and response.data == b"<x/>"


APPLICATION_ERROR_ROWS: list[tuple[str, str, Any, int, bytes]] = [
    ("http error field answers", ".http", {"error": {"statusCode": 418, "body": "teapot"}}, 418, b"teapot"),
    ("json error field answers", ".json", {"error": {"message": "bad"}}, 200, b'{\n  "message": "bad"\n}'),
    ("text error field", ".text", {"error": {"text": "oops"}}, 200, b"oops"),
]


@pytest.mark.parametrize(("extension", "result", "status", "body"), [row[1:] for row in APPLICATION_ERROR_ROWS],
                         ids=[row[0] for row in APPLICATION_ERROR_ROWS])
def test_application_error_answers_its_error_field(api: Api, extension: str, result: Any, status: int,
                                                   body: bytes) -> None:
    returning(api, "fails", result, Status.APPLICATION_ERROR)
    response = call(api, f"default/fails{extension}")
    assert (response.status_code, response.data) == (status, body)


def test_application_error_without_error_field_is_404(api: Api) -> None:
    returning(api, "fails", {"other": 1}, Status.APPLICATION_ERROR)
    error(call(api, "default/fails.json"), 404, "Response does not include requested property.")


@pytest.mark.parametrize("status", [Status.DEVELOPER_ERROR, Status.WHISK_ERROR])
def test_developer_and_platform_errors_are_400(api: Api, status: Status) -> None:
    returning(api, "broken", {"error": "The action did not produce a valid response."}, status)
    response = call(api, "default/broken.json")
    error(response, 400, "There was an error processing your request.")
    assert len(response.headers["x-openwhisk-activation-id"]) == 32


def test_past_the_wait_is_202_not_ready(api: Api) -> None:
    web_action(api, "slow")
    api.dispatcher.replies[f"{api.ns}/slow"] = Reply(finishes=False)
    response = call(api, "default/slow.json")
    error(response, 202, "Response not yet ready.")
    assert len(response.headers["x-openwhisk-activation-id"]) == 32


# --- what is found, and by whom --------------------------------------------------------------------------------

NOT_FOUND_ROWS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("not exported", "default/plain.json", None),
    ("web-export a string", "default/stringly.json", {"web-export": "true"}),
    ("web-export false", "default/off.json", {"web-export": False}),
    ("no such action", "default/missing.json", None),
    ("no such package", "nopkg/a.json", None),
    ("no action segment", "default", None),
    ("illegal name", "default/%20bad.json", None),
]


@pytest.mark.parametrize(("path", "annotations"), [row[1:] for row in NOT_FOUND_ROWS],
                         ids=[row[0] for row in NOT_FOUND_ROWS])
def test_not_a_web_action_is_404(api: Api, path: str, annotations: dict[str, Any] | None) -> None:
    api.action("plain")
    api.action("stringly", annotations=kv(**{"web-export": "true"}))
    api.action("off", annotations=kv(**{"web-export": False}))
    error(call(api, path), 404, NOT_FOUND)
    assert annotations is None or annotations  # the rows name what was stored


def test_unknown_namespace_is_404(api: Api) -> None:
    error(call(api, "default/echo.json", namespace="nobody-owns-this"), 404, NOT_FOUND)
    error(call(api, "default/echo.json", namespace="_"), 404, NOT_FOUND)


def test_blocked_owner_is_404(make_api: MakeApi) -> None:
    api = make_api()
    web_action(api, "echo")
    api.identities.set_blocked(api.ns, True)
    error(call(api, "default/echo.json"), 404, NOT_FOUND)


def test_runs_as_the_owner_whoever_calls(api: Api) -> None:
    web_action(api, "echo")
    response = call(api, "default/echo.json", auth=api.other)
    message = api.dispatcher.message(response.headers["x-openwhisk-activation-id"])
    assert (message.namespace, message.subject, message.api_key) == (api.ns, api.ns, None)
    record = ok(api.get(f"{NS}/activations/{response.headers['x-openwhisk-activation-id']}"))
    assert record["namespace"] == api.ns


def test_owner_throttle_counts_anonymous_traffic(make_api: MakeApi) -> None:
    api = make_api(limits={"invocations_per_minute": 2})
    web_action(api, "echo")
    assert call(api, "default/echo.json").status_code == 200
    assert call(api, "default/echo.json", auth=api.other).status_code == 200
    message = error(call(api, "default/echo.json"), 429)
    assert message.startswith("Too many requests in the last minute")
    # The owner's own invocations share the count: it is the owner's throttle.
    error(api.post(f"{NS}/actions/echo", {}, query={"blocking": "true"}), 429)
    # Another namespace's web actions are not held back by it.
    api.action("echo2", auth=api.other, annotations=kv(**WEB))
    assert call(api, "default/echo2.json", namespace=api.other_ns).status_code == 200


def test_web_action_in_a_package_and_a_binding(api: Api) -> None:
    api.package("pkg", parameters=kv(p="package", q="package"))
    api.action("pkg/echo", annotations=kv(**WEB), parameters=kv(q="action"))
    got = echoed(api, "pkg/echo.json")
    assert (got["p"], got["q"]) == ("package", "action")
    api.package("bound", binding={"namespace": api.ns, "name": "pkg"}, parameters=kv(p="binding"))
    got = echoed(api, "bound/echo.json")
    assert (got["p"], got["q"]) == ("binding", "action")
    error(call(api, "pkg/echo.json", namespace=api.other_ns), 404, NOT_FOUND)


def test_binding_to_another_namespaces_public_package(api: Api) -> None:
    api.package("shared", auth=api.other, publish=True, parameters=kv(p="shared"))
    api.action("shared/echo", auth=api.other, annotations=kv(**WEB))
    api.package("mine", binding={"namespace": api.other_ns, "name": "shared"})
    response = call(api, "mine/echo.json")
    assert ok(response)["p"] == "shared"
    assert api.dispatcher.message(response.headers["x-openwhisk-activation-id"]).namespace == api.ns


def test_private_package_of_another_namespace_through_a_binding_is_404(api: Api) -> None:
    api.package("private", auth=api.other, publish=True)
    api.action("private/echo", auth=api.other, annotations=kv(**WEB))
    api.package("mine", binding={"namespace": api.other_ns, "name": "private"})
    ok(api.put(f"{NS}/packages/private", {"publish": False}, auth=api.other, query={"overwrite": "true"}))
    error(call(api, "mine/echo.json"), 404, NOT_FOUND)


def test_web_sequence_goes_to_a_composition(api: Api) -> None:
    web_action(api, "one")
    api.put(f"{NS}/actions/seq", {"exec": {"kind": "sequence", "components": [f"/{api.ns}/one"]},
                                 "annotations": kv(**WEB)})
    steps = len(api.dispatcher.steps)
    # The test dispatcher runs no composition step (as a controller whose broker is down): 503, after the step.
    error(call(api, "default/seq.json"), 503)
    assert len(api.dispatcher.steps) == steps + 1
    step, _ = api.dispatcher.steps[-1]
    assert "__ow_method" in json.dumps(step)


# --- require-whisk-auth ----------------------------------------------------------------------------------------

AUTH_ROWS: list[tuple[str, Any, dict[str, Any], int]] = [
    # (case, annotation value, request, status)
    ("true without a key", True, {}, 401),
    ("true with a wrong key", True, {"auth": ("23bc46b1-71f6-4ed5-8c54-816aa4f8c502", "wrong")}, 401),
    ("true with any namespace's key", True, {"auth": GUEST}, 200),
    ("secret matched", "s3cret", {"headers": {"X-Require-Whisk-Auth": "s3cret"}}, 200),
    ("secret missing", "s3cret", {}, 401),
    ("secret wrong", "s3cret", {"headers": {"X-Require-Whisk-Auth": "S3CRET"}}, 401),
    ("secret not a key", "s3cret", {"auth": GUEST}, 401),
    ("number matched", 1234567, {"headers": {"X-Require-Whisk-Auth": "1234567"}}, 200),
    ("number wrong", 1234567, {"headers": {"X-Require-Whisk-Auth": "7654321"}}, 401),
    ("false is open", False, {}, 200),
    ("another value admits nobody", {"x": 1}, {"headers": {"X-Require-Whisk-Auth": "{'x': 1}"}}, 401),
]


@pytest.mark.parametrize(("required", "request_", "status"), [row[1:] for row in AUTH_ROWS],
                         ids=[row[0] for row in AUTH_ROWS])
def test_require_whisk_auth(api: Api, required: Any, request_: dict[str, Any], status: int) -> None:
    web_action(api, "secure", {"require-whisk-auth": required})
    before = len(api.dispatcher.published)
    response = call(api, "default/secure.json", **request_)
    assert response.status_code == status, response.get_data(as_text=True)
    if status == 401:
        error(response, 401, UNAUTHORIZED)
        assert len(api.dispatcher.published) == before  # nothing ran
        assert response.headers["Access-Control-Allow-Origin"] == "*"


# --- CORS and OPTIONS ------------------------------------------------------------------------------------------


def test_cors_headers_on_every_answer(api: Api) -> None:
    web_action(api, "echo")
    response = call(api, "default/echo.json")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"
    assert response.headers["Access-Control-Allow-Headers"] == (
        "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent")
    echoed_back = call(api, "default/echo.json", headers={"Access-Control-Request-Headers": "X-Foo, X-Bar"})
    assert echoed_back.headers["Access-Control-Allow-Headers"] == "X-Foo, X-Bar"


def test_options_is_answered_without_running_the_action(api: Api) -> None:
    web_action(api, "echo", {"require-whisk-auth": True})
    before = len(api.dispatcher.published)
    response = call(api, "default/echo.json", "OPTIONS")
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Access-Control-Allow-Methods"] == "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"
    assert "x-openwhisk-activation-id" not in response.headers
    assert len(api.dispatcher.published) == before


def test_custom_options_go_to_the_action_even_unauthenticated(api: Api) -> None:
    returning(api, "custom", {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "example.com",
                                                              "Access-Control-Allow-Methods": "OPTIONS, GET"}},
              annotations={"web-custom-options": True, "require-whisk-auth": True})
    response = call(api, "default/custom", "OPTIONS")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "example.com"
    assert response.headers["Access-Control-Allow-Methods"] == "OPTIONS, GET"
    assert len(response.headers["x-openwhisk-activation-id"]) == 32
    error(call(api, "default/custom", "GET"), 401, UNAUTHORIZED)  # other methods still need the key


def test_custom_options_answers_carry_only_the_actions_cors_headers(api: Api) -> None:
    """With ``web-custom-options`` the action settles CORS: none of the REST API's default headers are added."""
    returning(api, "own", {"statusCode": 200, "body": "x"}, annotations={"web-custom-options": True})
    response = call(api, "default/own.http", "GET")
    assert response.status_code == 200 and response.data == b"x"
    assert not [name for name, _ in response.headers.items() if name.lower().startswith("access-control-")]


def test_action_headers_replace_the_default_cors_ones(api: Api) -> None:
    returning(api, "out", {"headers": {"Access-Control-Allow-Origin": "https://example.org"}, "body": "x"})
    response = call(api, "default/out")
    assert response.headers.getlist("Access-Control-Allow-Origin") == ["https://example.org"]


# --- the annotations wsk sends ---------------------------------------------------------------------------------


def wsk_update(api: Api, name: str, annotations: list[dict[str, Any]], delete: list[str] | None = None) -> None:
    """``wsk action update NAME --web ...``: the action read without code, then PUT with overwrite."""
    current = ok(api.get(f"{NS}/actions/{name}", query={"code": "false"}))
    body: dict[str, Any] = {"annotations": annotations, "exec": {"kind": current["exec"]["kind"],
                                                                  "code": "def main(args):\n    return args\n"}}
    if delete:
        body["delAnnotations"] = delete
    ok(api.put(f"{NS}/actions/{name}", body, query={"overwrite": "true"}))


def test_wsk_web_flags_change_the_behaviour(api: Api) -> None:
    api.action("w", parameters=kv(p="bound"))
    error(call(api, "default/w.json"), 404, NOT_FOUND)
    # --web true: web-export, not raw, final
    wsk_update(api, "w", kv(**{"web-export": True, "raw-http": False, "final": True}))
    assert ok(call(api, "default/w.json", query="a=1"))["a"] == "1"
    error(call(api, "default/w.json", query="p=x"), 400, RESERVED)
    # --web raw
    wsk_update(api, "w", kv(**{"web-export": True, "raw-http": True, "final": True}))
    assert ok(call(api, "default/w.json", query="a=1"))["__ow_query"] == "a=1"
    # --web-secure true: a random number the header must carry
    wsk_update(api, "w", kv(**{"web-export": True, "raw-http": False, "final": True,
                               "require-whisk-auth": 4242424242}))
    error(call(api, "default/w.json"), 401, UNAUTHORIZED)
    assert call(api, "default/w.json", headers={"X-Require-Whisk-Auth": "4242424242"}).status_code == 200
    # --web-secure false: the annotation deleted
    wsk_update(api, "w", kv(**{"web-export": True, "raw-http": False, "final": True}), ["require-whisk-auth"])
    assert call(api, "default/w.json").status_code == 200
    # --web false
    wsk_update(api, "w", kv(**{"web-export": False, "raw-http": False, "final": False}))
    error(call(api, "default/w.json"), 404, NOT_FOUND)


def test_guest_key_path_is_the_url_wsk_prints(api: Api) -> None:
    ok(api.put(f"{NS}/actions/hello", {"exec": {"kind": "python:3", "code": "def main(a):\n    return a\n"},
                                       "annotations": kv(**WEB)}, auth=GUEST))
    assert ok(call(api, "default/hello.json", namespace="guest"))["__ow_path"] == ""


def test_a_web_request_looks_the_action_up_once(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The web route reads the action to decide (its annotations), then invokes it: one lookup serves both, since
    each costs a revision check in the entity cache (a Redis round trip) on the distributed stack."""
    from app.core.services.resolution import Resolver

    web_action(api, "echo")
    looked_up: list[str] = []
    lookup = Resolver.action

    def counted(self: Resolver, path: Any) -> Any:
        looked_up.append(path.doc_id)
        return lookup(self, path)

    monkeypatch.setattr(Resolver, "action", counted)
    assert echoed(api)["__ow_method"] == "get"
    assert looked_up == [f"{api.ns}/echo"]
