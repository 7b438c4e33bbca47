"""The unauthenticated endpoints (``/``, ``/api/v1``, ``/ping``), unknown routes and methods, CORS and the
transaction id every answer carries."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import NO_AUTH, NS, Api, MakeApi, error, ok

pytestmark = pytest.mark.api

MB = 1_048_576


def test_root_describes_the_platform_without_auth(api: Api) -> None:
    response = api.get("/", auth=NO_AUTH)
    body = ok(response)
    assert response.mimetype == "application/json"
    assert body["description"] == "Squall, an OpenWhisk-compatible platform"
    assert body["api_paths"] == ["/api/v1"]
    assert body["limits"] == {
        "actions_per_minute": 60, "triggers_per_minute": 60, "concurrent_actions": 30,
        "max_action_duration": 300_000, "min_action_duration": 100,
        "max_action_memory": 512 * MB, "min_action_memory": 128 * MB,
        "max_action_logs": 10 * MB, "min_action_logs": 0,
        "sequence_length": 50,
    }
    kinds = {family: [k["kind"] for k in runtimes] for family, runtimes in body["runtimes"].items()}
    assert "python:3" in kinds["python"] and "nodejs:18" in kinds["nodejs"]


def test_root_limits_follow_the_settings(make_api: MakeApi) -> None:
    api = make_api(limits={"invocations_per_minute": 7, "fires_per_minute": 9, "max_memory_mb": 1024,
                           "min_timeout_ms": 50})
    limits = ok(api.get("/", auth=NO_AUTH))["limits"]
    assert limits["actions_per_minute"] == 7 and limits["triggers_per_minute"] == 9
    assert limits["max_action_memory"] == 1024 * MB and limits["min_action_duration"] == 50


def test_root_sequence_length_follows_the_settings(make_api: MakeApi) -> None:
    api = make_api(limits={"sequence_max_length": 5})
    assert ok(api.get("/", auth=NO_AUTH))["limits"]["sequence_length"] == 5


def test_api_info(api: Api) -> None:
    assert ok(api.get("/api/v1", auth=NO_AUTH)) == {
        "description": "OpenWhisk API", "api_version": "1.0.0", "api_version_path": "v1",
        "build": "2026-11-30T00:00:00Z", "buildno": "squall-0.1.0",
        "swagger_paths": {"ui": "/docs", "api-docs": "/api-docs"},
    }


def test_ping(api: Api) -> None:
    response = api.get("/ping", auth=NO_AUTH)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "pong"


@pytest.mark.parametrize("path", ["/api/v1/nowhere", "/api/v2", f"{NS}/nothings", f"{NS}/rules/a/b",
                                  "/favicon.ico"])
def test_unknown_routes_are_404_envelopes(api: Api, path: str) -> None:
    response = api.get(path, headers={"X-Request-ID": "abc123"})
    assert error(response, 404) == "The requested resource does not exist."
    assert response.get_json() == {"error": "The requested resource does not exist.", "code": "abc123"}


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PATCH", f"{NS}/actions/a", "DELETE, GET, HEAD, OPTIONS, POST, PUT"),
    ("POST", f"{NS}/actions", "GET, HEAD, OPTIONS"),
    ("PUT", f"{NS}/activations/{'a' * 32}", "GET, HEAD, OPTIONS"),
    ("DELETE", "/api/v1", "GET, HEAD, OPTIONS"),
    ("POST", "/api/v1/namespaces", "GET, HEAD, OPTIONS"),
    ("PATCH", f"{NS}/packages/p", "DELETE, GET, HEAD, OPTIONS, PUT"),
    ("POST", f"{NS}/packages/p", "DELETE, GET, HEAD, OPTIONS, PUT"),
])
def test_wrong_method_is_405_naming_the_allowed_ones(api: Api, method: str, path: str, allowed: str) -> None:
    response = api.request(method, path)
    assert error(response, 405) == f"HTTP method not allowed, supported methods: {allowed}."


def test_options_answers_cors_without_auth(api: Api) -> None:
    response = api.request("OPTIONS", f"{NS}/actions/a", auth=NO_AUTH)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "GET, DELETE, POST, PUT, HEAD"
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]


def test_errors_carry_cors_headers_too(api: Api) -> None:
    response = api.get(f"{NS}/actions", auth=NO_AUTH)
    error(response, 401)
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(("given", "kept"), [
    ("my-request-1", True),
    ("x" * 128, True),
    ("x" * 129, False),  # too long: one of ours instead
    ("sid_abcdef", False),  # looks like OpenWhisk's own session ids
    ("", False),
])
def test_request_id_is_the_callers_unless_unfit(api: Api, given: str, kept: bool) -> None:
    response = api.get(f"{NS}/actions/missing", headers={"X-Request-ID": given})
    error(response, 404)
    tid = response.headers["X-Request-ID"]
    assert response.get_json()["code"] == tid
    if kept:
        assert tid == given
    else:
        assert re.fullmatch(r"[A-Za-z0-9]{32}", tid), tid


def test_each_request_gets_its_own_id(api: Api) -> None:
    ids = {api.get(f"{NS}/actions").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3
