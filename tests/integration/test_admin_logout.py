"""Logging out of the admin pages ends the session on every controller: two controllers on one CouchDB-API server
(pouchdb-server) and one Redis, a login on one, a logout on it, and the cookie from before refused by the other."""

from __future__ import annotations

import re
import secrets

import pytest
import redis
from flask.testing import FlaskClient

from app.controller import create_app
from app.core.identities import WELL_KNOWN
from config import load_settings

pytestmark = pytest.mark.integration

COOKIE = "squall_admin"
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def _token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


def _dashboard(client: FlaskClient, cookie: str) -> int:
    client.set_cookie(COOKIE, cookie, path="/admin")
    return client.get("/admin/dashboard").status_code


def test_a_logout_on_one_controller_ends_the_session_on_another(couchdb_url: str, redis_url: str) -> None:
    run = secrets.token_hex(4)
    settings = load_settings(environ={}, overrides={
        "couchdb": {"url": couchdb_url, "prefix": f"adm{run}_"},
        "broker": {"result_backend": redis_url},
        "invoker": {"name": f"adm{run}", "queues": [f"adm{run}"]},
        "admin": {"secret_key": secrets.token_hex(16)},
    })
    first, second = create_app(settings), create_app(settings)
    try:
        first.extensions["squall"].identities.seed()
        browser = first.test_client()
        page = browser.get("/admin/login")
        assert browser.post("/admin/login", data={"login": WELL_KNOWN["guest"],
                                                  "csrf_token": _token(page.text)}).status_code == 302
        cookie = browser.get_cookie(COOKIE, path="/admin")
        assert cookie is not None
        assert _dashboard(second.test_client(), cookie.value) == 200

        dashboard = browser.get("/admin/dashboard")
        assert browser.post("/admin/logout", data={"csrf_token": _token(dashboard.text)}).status_code == 302
        assert _dashboard(second.test_client(), cookie.value) == 302  # refused there too: ended in Redis
    finally:
        for made in (first, second):
            made.extensions["squall_store"].close()
        shared = redis.Redis.from_url(redis_url)
        try:
            for key in shared.scan_iter(f"squall:admin-ended:adm{run}_:*"):
                shared.delete(key)
        finally:
            shared.close()
