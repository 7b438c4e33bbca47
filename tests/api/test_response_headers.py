"""Headers every answer carries: ``X-Content-Type-Options: nosniff`` (API and admin pages alike), and an
``X-Request-ID`` that is the caller's only when it is short and made of safe characters, else one of ours."""

from __future__ import annotations

import re

import pytest
from werkzeug.test import TestResponse

from tests.api.conftest import NO_AUTH, NS, Api

pytestmark = pytest.mark.api

OURS = re.compile(r"[A-Za-z0-9]{32}")


def _ours(response: TestResponse) -> None:
    tid = response.headers["X-Request-ID"]
    assert OURS.fullmatch(tid), tid
    if response.status_code >= 400:
        assert response.get_json()["code"] == tid


@pytest.mark.parametrize("path, status", [
    ("/api/v1", 200),
    (f"{NS}/actions", 200),
    (f"{NS}/actions/missing", 404),
    ("/nowhere", 404),
])
def test_api_answers_are_never_sniffed(api: Api, path: str, status: int) -> None:
    response = api.get(path)
    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_refusals_and_admin_pages_are_never_sniffed(api: Api) -> None:
    client = api.platform.client
    assert api.get(f"{NS}/actions", auth=NO_AUTH).headers["X-Content-Type-Options"] == "nosniff"
    for path, status in (("/admin/login", 200), ("/admin/dashboard", 302), ("/admin/static/admin/admin.css", 200)):
        response = client.get(path)
        assert response.status_code == status, path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        response.close()  # a static file is answered from an open file


@pytest.mark.parametrize("given", ["3f0e5b1c-2a4d-4e6f-8a9b-0c1d2e3f4a5b", "job-42_retry.3:x", "a" * 128])
def test_a_well_formed_request_id_is_kept(api: Api, given: str) -> None:
    response = api.get(f"{NS}/actions/missing", headers={"X-Request-ID": given})
    assert response.headers["X-Request-ID"] == given
    assert response.get_json()["code"] == given


@pytest.mark.parametrize("given", [
    "<script>alert(1)</script>",
    "a b",
    "a" * 129,
    "tab\there",
    "bell\x07",
    "nul\x00byte",
    "del\x7f",
    "esc\x1b[31mred",
    "caf\u00e9",
    "sid_123",  # looks like one of OpenWhisk's own session ids
])
def test_any_other_request_id_is_replaced_by_ours(api: Api, given: str) -> None:
    _ours(api.get(f"{NS}/actions/missing", headers={"X-Request-ID": given}))
    _ours(api.get(f"{NS}/actions", headers={"X-Request-ID": given}))
