"""The admin login's ``next=``: wherever it points, a login answers a redirect to a page of this site's admin,
never a 500 (a CR/LF in a Location header) and never another site (an open redirect)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from tests.api.conftest import GUEST, Platform

pytestmark = pytest.mark.api

_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
DASHBOARD = "/admin/dashboard"


def _login(client: FlaskClient, next_: str) -> tuple[int, str]:
    page = client.get("/admin/login")
    match = _TOKEN.search(page.text)
    assert match, "no CSRF token in the login page"
    response = client.post("/admin/login", query_string={"next": next_},
                           data={"login": ":".join(GUEST), "csrf_token": match.group(1) or match.group(2)})
    return response.status_code, response.headers.get("Location", "")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    built = Platform.build(tmp_path_factory.mktemp("login") / "squall.db",
                           {"admin": {"secret_key": "x" * 32, "login_attempts_per_minute": 1000}})
    yield built
    built.close()


@pytest.fixture
def client(platform: Platform) -> FlaskClient:
    return platform.app.test_client()  # a cookie jar of its own: every test logs in afresh


@pytest.mark.parametrize("next_", [
    "/admin/x\r\nSet-Cookie: a=b", "/admin\n", "/admin/\r", "/admin/\x00", "/admin/\x7f", "/admin/\t",
])
def test_a_control_character_in_next_is_no_500(client: FlaskClient, next_: str) -> None:
    status, location = _login(client, next_)
    assert status == 302
    assert location == DASHBOARD


@pytest.mark.parametrize("next_", [
    "https://evil.example/admin", "//evil.example/admin", "/\\evil.example", "/admin\\@evil.example",
    "/administrator", "/admin.evil.example", "http:/admin", "javascript:alert(1)", "admin/x", "",
])
def test_next_never_leaves_the_admin_pages(client: FlaskClient, next_: str) -> None:
    assert _login(client, next_) == (302, DASHBOARD)


@pytest.mark.parametrize("next_", ["/admin/", "/admin", "/admin/actions?skip=30", "/admin/namespaces/guest"])
def test_a_page_of_the_admin_is_where_a_login_goes(client: FlaskClient, next_: str) -> None:
    assert _login(client, next_) == (302, next_)
