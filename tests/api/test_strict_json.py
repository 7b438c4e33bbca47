"""Request bodies are strict JSON (``app.core.strict_json``): what Python's ``json`` reads beyond RFC 8259 (NaN,
Infinity, numbers that overflow to infinity, lone surrogates, integers past 4,300 digits, nesting past
``MAX_DEPTH``) is a 400 with the error envelope on every route that reads a body, and nothing of it is stored
or run. (``Api.request`` checks every envelope and that no answer is a 500.)"""

from __future__ import annotations

import pytest

from app.core.strict_json import MAX_DEPTH
from tests.api.conftest import NS, Api, error, ok

pytestmark = pytest.mark.api

MALFORMED = "The request content was malformed:\n"

NOT_STRICT = {
    "nan": b"NaN",
    "infinity": b"Infinity",
    "minus-infinity": b"-Infinity",
    "overflowing-float": b"1e400",
    "huge-integer": b"9" * 5000,
    "lone-surrogate": b'"\\ud800"',
    "lone-low-surrogate": b'"a\\udc00b"',
    "encoded-surrogate": b'"\xed\xa0\x80"',  # a surrogate in the bytes themselves: not UTF-8
    "too-deep": b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
}

# Each route that reads a body, with a body that is valid but for the value spliced in at VALUE.
VALUE = b"@"
ROUTES = {
    "action-parameter": ("PUT", "/actions/a", b'{"exec": {"kind": "python:3", "code": "x"}, '
                                              b'"parameters": [{"key": "p", "value": @}]}'),
    "action-annotation": ("PUT", "/actions/a", b'{"exec": {"kind": "python:3", "code": "x"}, '
                                               b'"annotations": [{"key": "p", "value": @}]}'),
    "package-parameter": ("PUT", "/packages/p", b'{"parameters": [{"key": "p", "value": @}]}'),
    "package-annotation": ("PUT", "/packages/p", b'{"annotations": [{"key": "p", "value": @}]}'),
    "trigger-parameter": ("PUT", "/triggers/t2", b'{"parameters": [{"key": "p", "value": @}]}'),
    "trigger-annotation": ("PUT", "/triggers/t2", b'{"annotations": [{"key": "p", "value": @}]}'),
    "rule-annotation": ("PUT", "/rules/r", b'{"trigger": "/_/t", "action": "/_/echo", '
                                           b'"annotations": [{"key": "p", "value": @}]}'),
    "invoke-payload": ("POST", "/actions/echo?blocking=true", b'{"p": @}'),
    "fire-payload": ("POST", "/triggers/t", b'{"p": @}'),
    "alarm-payload": ("PUT", "/alarms/t", b'{"kind": "interval", "minutes": 1, "trigger_payload": {"p": @}}'),
}


@pytest.fixture
def world(api: Api) -> Api:
    """An action ``echo`` and a trigger ``t`` for the routes that need one."""
    api.action("echo")
    api.trigger("t")
    return api


@pytest.mark.parametrize("value", NOT_STRICT.values(), ids=NOT_STRICT.keys())
@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
def test_a_value_that_is_not_strict_json_is_400_and_nothing_is_kept(
        world: Api, route: tuple[str, str, bytes], value: bytes) -> None:
    method, path, template = route
    published = len(world.dispatcher.published)
    response = world.request(method, f"{NS}{path}", data=template.replace(VALUE, value))
    assert error(response, 400).startswith(MALFORMED)
    assert len(world.dispatcher.published) == published  # nothing ran
    if method == "PUT":
        error(world.get(f"{NS}{path}"), 404)  # nothing was stored


@pytest.mark.parametrize("key", [b'"\\ud800"', b'"\\udfff"'], ids=["high", "low"])
def test_a_lone_surrogate_in_a_key_is_400(world: Api, key: bytes) -> None:
    assert error(world.post(f"{NS}/actions/echo", data=b"{" + key + b": 1}"), 400).startswith(MALFORMED)


def test_action_code_with_a_lone_surrogate_is_400_and_not_stored(api: Api) -> None:
    # Such an action, once stored, failed every invoke afterwards: it must never be stored.
    body = b'{"exec": {"kind": "python:3", "code": "def main(args):\\n    return {\\"x\\": \\"\\ud800\\"}"}}'
    assert error(api.put(f"{NS}/actions/bad", data=body), 400).startswith(MALFORMED)
    error(api.get(f"{NS}/actions/bad"), 404)


def test_the_nesting_limit_itself_and_real_surrogate_pairs_are_accepted(world: Api) -> None:
    deep = b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1)  # in {"p": ...}: MAX_DEPTH levels in all
    activation = ok(world.post(f"{NS}/actions/echo", query={"blocking": "true"}, data=b'{"p": ' + deep + b"}"))
    assert activation["response"]["success"]
    body = b'{"parameters": [{"key": "smile", "value": "\\ud83d\\ude00"}, {"key": "text", "value": "\\\\ud800"}]}'
    assert ok(world.put(f"{NS}/triggers/t", data=body, query={"overwrite": "true"}))["parameters"] == [
        {"key": "smile", "value": "\U0001f600"}, {"key": "text", "value": "\\ud800"}]


@pytest.mark.parametrize("body", [
    {"kind": "interval", "minutes": 10**30},
    {"kind": "interval", "minutes": "9" * 5000},
    {"kind": "alarm", "cron": "* * * * *", "startDate": 253402300799000},  # 9999-12-31: no next fire exists
    {"kind": "alarm", "cron": "* * * * *", "stopDate": 2**70},
    {"kind": "once", "date": "9999-12-31T23:59:59Z"},
], ids=["huge-interval", "huge-interval-digits", "start-in-9999", "huge-stop", "iso-date-in-9999"])
def test_alarm_schedules_out_of_range_are_400_and_not_stored(api: Api, body: dict[str, object]) -> None:
    api.trigger("t")
    error(api.put(f"{NS}/alarms/t", body), 400)
    error(api.get(f"{NS}/alarms/t"), 404)


def test_the_admin_invoke_form_refuses_what_the_api_refuses():
    from wtforms.validators import ValidationError

    from app.controller.admin.forms import _json_object

    class Field:
        data = '{"x": NaN}'

    with pytest.raises(ValidationError):
        _json_object(None, Field())
