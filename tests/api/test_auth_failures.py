"""Failed authentication is throttled: past ``controller.auth_failures_per_minute`` failures from one address, or
with one uuid, a failure is answered 429 with OpenWhisk's envelope and ``Retry-After``; a correct key is always
accepted, and a request without credentials is not a guess."""

from __future__ import annotations

import time
import uuid as uuidlib

import pytest
from werkzeug.test import TestResponse

from app.core.limits import WINDOW_MS
from config import defaults
from tests.api.conftest import NO_AUTH, Api, MakeApi, check_contract, error, ok

pytestmark = pytest.mark.api

LIST = "/api/v1/namespaces"
INVALID = "The supplied authentication is invalid"
TOO_MANY = "Too many failed authentication attempts in the last minute; try again later."


@pytest.fixture(autouse=True)
def one_window() -> None:
    """Each test counts failures in the minute's window (``app.core.limits.window_key``) and expects exact
    answers: one that started in a minute's last seconds would see its count cut in two. Start in a fresh one."""
    left_s = WINDOW_MS / 1000 - time.time() % (WINDOW_MS / 1000)
    if left_s < 10:
        time.sleep(left_s + 0.05)


def _wrong() -> tuple[str, str]:
    return str(uuidlib.uuid4()), "x" * 64


def _from(api: Api, address: str, auth: tuple[str, str]) -> TestResponse:
    response = api.platform.client.get(LIST, auth=auth, environ_base={"REMOTE_ADDR": address})
    check_contract(response)
    return response


def _throttled(response: TestResponse) -> None:
    error(response, 429, TOO_MANY)
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_a_flood_of_wrong_keys_is_answered_429_after_the_limit(make_api: MakeApi) -> None:
    api = make_api(controller={"auth_failures_per_minute": defaults.AUTH_FAILURES_PER_MINUTE})
    statuses = [api.get(LIST, auth=(api.auth[0], f"{n:064d}")).status_code for n in range(200)]
    assert statuses == [401] * defaults.AUTH_FAILURES_PER_MINUTE + [429] * (200 - defaults.AUTH_FAILURES_PER_MINUTE)


def test_failures_from_one_address_are_throttled_whatever_the_uuid(make_api: MakeApi) -> None:
    api = make_api(controller={"auth_failures_per_minute": 5})
    for n in range(5):
        auth = _wrong() if n % 2 else (api.other[0], "x" * 64)  # unknown uuids and wrong keys alike
        error(api.get(LIST, auth=auth), 401, INVALID)
    _throttled(api.get(LIST, auth=_wrong()))
    _throttled(api.get(LIST, auth=(api.other[0], "y" * 64)))
    assert ok(api.get(LIST)) == [api.ns]  # the right key from the same address still works
    assert ok(api.get(LIST, auth=api.other)) == [api.other_ns]
    error(_from(api, "10.1.1.2", _wrong()), 401, INVALID)  # another address has its own count


def test_failures_with_one_uuid_are_throttled_from_any_address(make_api: MakeApi) -> None:
    api = make_api(controller={"auth_failures_per_minute": 5})
    victim = api.other[0]
    for n in range(5):
        error(_from(api, f"10.2.0.{n}", (victim, "x" * 64)), 401, INVALID)
    _throttled(_from(api, "10.2.0.99", (victim, "z" * 64)))
    assert ok(_from(api, "10.2.0.99", api.other)) == [api.other_ns]  # nobody is locked out of their namespace
    error(_from(api, "10.2.0.99", _wrong()), 401, INVALID)


def test_missing_credentials_are_not_counted(make_api: MakeApi) -> None:
    api = make_api(controller={"auth_failures_per_minute": 2})
    for _ in range(5):
        error(api.get(LIST, auth=NO_AUTH), 401)
    error(api.get(LIST, auth=_wrong()), 401, INVALID)


def test_successes_are_not_counted(make_api: MakeApi) -> None:
    api = make_api(controller={"auth_failures_per_minute": 1})
    for _ in range(5):
        ok(api.get(LIST))
    error(api.get(LIST, auth=_wrong()), 401, INVALID)
    _throttled(api.get(LIST, auth=_wrong()))
