"""The namespace throttles (``invocationsPerMinute``, ``firesPerMinute``): 429 with OpenWhisk's message, from the
settings or from a namespace's own override.

Counts are per clock minute: a minute may turn between two requests, so a test that needs the count to reach the
limit allows for one fresh window (``until_throttled``); a limit of 0 refuses the first request whatever the
minute."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from werkzeug.test import TestResponse

from tests.api.conftest import NS, Api, MakeApi, error, ok

pytestmark = pytest.mark.api

FIRST_OF_NONE = "Too many requests in the last minute (count: 1, allowed: 0)."


def until_throttled(send: Callable[[], TestResponse], limit: int, passed: int) -> TestResponse:
    """Send until a 429: within ``2 * limit + 1`` requests one minute's window overflows. The first ``limit``
    must answer ``passed``."""
    for n in range(2 * limit + 1):
        response = send()
        if response.status_code == 429:
            assert n >= limit, f"throttled after {n} requests, allowed {limit}"
            return response
        assert response.status_code == passed, response.get_data(as_text=True)
    raise AssertionError(f"never throttled in {2 * limit + 1} requests")


def retry_after(response: TestResponse) -> int:
    """The answer's ``Retry-After``: the seconds left in the minute that was counted in."""
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= 60, seconds
    return seconds


def test_invocations_per_minute_zero_refuses_the_first(make_api: MakeApi) -> None:
    api = make_api(limits={"invocations_per_minute": 0})
    api.action("a")
    response = api.post(f"{NS}/actions/a", {}, query={"blocking": "true"})
    assert error(response, 429) == FIRST_OF_NONE
    retry_after(response)
    assert api.dispatcher.published == []


def test_invocations_past_the_limit_are_429(make_api: MakeApi) -> None:
    api = make_api(limits={"invocations_per_minute": 2})
    api.action("a")
    throttled = until_throttled(lambda: api.post(f"{NS}/actions/a", {}), 2, 202)
    message = error(throttled, 429)
    assert message.startswith("Too many requests in the last minute (count: ")
    assert message.endswith(", allowed: 2).")
    retry_after(throttled)
    api.action("a", auth=api.other)
    assert ok(api.post(f"{NS}/actions/a", {}, auth=api.other), 202)  # another namespace counts on its own


def test_fires_per_minute_zero_refuses_the_first(make_api: MakeApi) -> None:
    api = make_api(limits={"fires_per_minute": 0})
    api.trigger("t")
    refused = api.post(f"{NS}/triggers/t", {})
    assert error(refused, 429) == FIRST_OF_NONE
    retry_after(refused)


def test_fires_per_minute_default_is_60(api: Api) -> None:
    api.trigger("t")
    throttled = until_throttled(lambda: api.post(f"{NS}/triggers/t", {}), 60, 204)
    message = error(throttled, 429)
    assert message.startswith("Too many requests in the last minute (count: ")
    assert message.endswith(", allowed: 60).")


def test_an_override_throttles_only_its_namespace(api: Api) -> None:
    api.store.put_limits(api.ns, {"invocationsPerMinute": 0, "firesPerMinute": 0})
    api.action("a")
    api.trigger("t")
    assert error(api.post(f"{NS}/actions/a", {}), 429) == FIRST_OF_NONE
    assert error(api.post(f"{NS}/triggers/t", {}), 429) == FIRST_OF_NONE
    api.action("a", auth=api.other)
    assert ok(api.post(f"{NS}/actions/a", {}, auth=api.other), 202)  # everyone else keeps the deployment's
    api.store.put_limits(api.ns, {"invocationsPerMinute": 1000})
    assert ok(api.post(f"{NS}/actions/a", {}), 202)
