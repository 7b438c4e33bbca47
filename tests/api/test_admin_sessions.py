"""Admin sessions end on the server at logout: a copy of the cookie taken before logging out opens nothing after,
and logging out of one session leaves the holder's other sessions alone."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from app.core.identities import WELL_KNOWN
from tests.api.conftest import GUEST as GUEST_PAIR
from tests.api.conftest import MakeApi

pytestmark = pytest.mark.api

GUEST = WELL_KNOWN["guest"]
COOKIE = "squall_admin"
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def _token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


def _login(client: FlaskClient) -> str:
    """Log in as guest; the session cookie's value."""
    page = client.get("/admin/login")
    response = client.post("/admin/login", data={"login": GUEST, "csrf_token": _token(page.text)})
    assert response.status_code == 302, response.text
    cookie = client.get_cookie(COOKIE, path="/admin")
    assert cookie is not None
    return cookie.value


def _logout(client: FlaskClient) -> None:
    page = client.get("/admin/dashboard")
    assert client.post("/admin/logout", data={"csrf_token": _token(page.text)}).status_code == 302


def _dashboard(client: FlaskClient, cookie: str) -> int:
    """The status of the dashboard asked for with this cookie value, as a browser (or a thief) would."""
    client.set_cookie(COOKIE, cookie, path="/admin")
    return client.get("/admin/dashboard").status_code


def test_a_cookie_replayed_after_logout_is_refused(make_api: MakeApi) -> None:
    app = make_api().platform.app
    browser = app.test_client()
    cookie = _login(browser)
    assert _dashboard(app.test_client(), cookie) == 200  # a copy works while the session lasts
    _logout(browser)
    assert browser.get("/admin/dashboard").status_code == 302
    replayed = app.test_client()
    response = replayed.get("/admin/dashboard", headers={"Cookie": f"{COOKIE}={cookie}"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")
    assert _dashboard(app.test_client(), cookie) == 302


def test_logging_out_ends_that_session_only(make_api: MakeApi) -> None:
    app = make_api().platform.app
    laptop, phone = app.test_client(), app.test_client()
    _login(laptop)
    phone_cookie = _login(phone)
    _logout(laptop)
    assert _dashboard(app.test_client(), phone_cookie) == 200


def test_each_login_is_a_new_session(make_api: MakeApi) -> None:
    app = make_api().platform.app
    client = app.test_client()
    first = _login(client)
    _logout(client)
    second = _login(client)
    assert first != second
    assert _dashboard(app.test_client(), second) == 200
    assert _dashboard(app.test_client(), first) == 302


def test_only_the_admin_pages_open_a_session(make_api: MakeApi) -> None:
    """The REST API never reads or writes the admin's cookie session: no ``Vary: Cookie``, no ``Set-Cookie``, even
    when a request outside ``/admin`` carries the cookie; the admin pages still have theirs."""
    app = make_api().platform.app
    browser = app.test_client()
    cookie = _login(browser)
    for client, headers in ((app.test_client(), {}), (browser, {"Cookie": f"{COOKIE}={cookie}"})):
        response = client.get("/api/v1/namespaces/_/actions", auth=GUEST_PAIR, headers=headers)
        assert response.status_code == 200
        assert "Cookie" not in response.headers.get("Vary", "") and "Set-Cookie" not in response.headers
    page = browser.get("/admin/dashboard")
    assert page.status_code == 200 and "Cookie" in page.headers.get("Vary", "")
