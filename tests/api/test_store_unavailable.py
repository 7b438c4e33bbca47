"""A store that cannot be reached: every route answers 503 with the envelope and ``Retry-After``, never a 500;
a key the controller looked up before keeps working for a bounded time, a key it never saw is 503 (not 401), and
what the store says once it is back (a blocked key) counts at once.

Two stores stand for the outage: the real ``CouchStore`` pointed at a loopback port nobody listens on (nothing
is faked: a refused connection), and the real sqlite store behind ``Switchable``, our ``Store`` port with a
switch that fails every call as the CouchDB client does when the server is gone, so a test can look a key up
first and take the store away after.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.controller import create_app
from app.core.errors import StoreUnavailable
from app.core.services import IdentityService
from app.state.counters import MemoryCounters
from app.store import Store, open_store
from app.store.couchdb import CouchStore
from config import Settings, load_settings
from tests.api.conftest import BASE_OVERRIDES, GUEST, EchoDispatcher, check_contract
from tests.api.test_auth import BODY, ROUTES, Route

pytestmark = pytest.mark.api

UNAVAILABLE = "The database is currently unavailable; try again shortly."


class Switchable:
    """Our ``Store`` port over a real store; while ``down``, every call raises ``StoreUnavailable``."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self.down = False
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr) or name == "close":
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.down:
                raise StoreUnavailable(f"connection refused ({name})")
            return attr(*args, **kwargs)

        return call


def _settings(**sections: dict[str, Any]) -> Settings:
    overrides = {name: dict(values) for name, values in BASE_OVERRIDES.items()}
    overrides["admin"] = {"secret_key": "api-tests"}  # else the app asks the store for one as it is built
    for name, values in sections.items():
        overrides.setdefault(name, {}).update(values)
    return load_settings(environ={}, overrides=overrides)


def _app(settings: Settings, store: Any) -> Flask:
    dispatcher = EchoDispatcher(store)
    return create_app(settings, store=store, dispatcher=dispatcher, invokers=dispatcher, counter=MemoryCounters())


def _request(client: FlaskClient, method: str, path: str, auth: tuple[str, str]) -> TestResponse:
    response = client.open(path, method=method, auth=auth, json=BODY if method in ("PUT", "POST") else None)
    check_contract(response)  # never a 500; the envelope with the request id on every error
    return response


def key(credentials: str) -> tuple[str, str]:
    uuid, _, secret = credentials.partition(":")
    return uuid, secret


def unavailable(response: TestResponse) -> None:
    assert response.status_code == 503, (response.status_code, response.get_data(as_text=True))
    assert response.get_json()["error"] == UNAVAILABLE
    assert int(response.headers["Retry-After"]) > 0


def _id(route: Route) -> str:
    return f"{route[0]} {route[1].removeprefix('/api/v1/namespaces')}"


@pytest.fixture(scope="module")
def refused() -> Iterator[FlaskClient]:
    """The controller over a CouchDB URL on which nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = _settings(couchdb={"url": url, "timeout_s": 2.0})
    store = CouchStore(settings.couchdb)
    yield _app(settings, store).test_client()
    store.close()


@pytest.mark.parametrize("route", ROUTES, ids=_id)
def test_every_route_answers_503_with_retry_after_when_couchdb_refuses_connections(
        refused: FlaskClient, route: Route) -> None:
    method, template, name = route
    unavailable(_request(refused, method, template.format(ns="_", name=name), GUEST))


@pytest.fixture
def switchable(tmp_path: Path) -> Iterator[Callable[..., tuple[FlaskClient, Switchable, IdentityService]]]:
    """``make(**sections)``: the controller over a sqlite file behind ``Switchable``, and the identities the
    operator uses on the same file (as the CLI would, always reading the store)."""
    stores: list[Store] = []

    def make(**sections: dict[str, Any]) -> tuple[FlaskClient, Switchable, IdentityService]:
        settings = _settings(store={"kind": "sqlite", "path": str(tmp_path / f"s{len(stores)}.db")}, **sections)
        store = open_store(settings)
        stores.append(store)
        operator = IdentityService(store, cache_seconds=0)
        operator.seed()
        switch = Switchable(store)
        return _app(settings, switch).test_client(), switch, operator

    yield make
    for store in stores:
        store.close()


def test_a_key_looked_up_before_the_outage_keeps_working_and_the_rest_is_503(
        switchable: Callable[..., tuple[FlaskClient, Switchable, IdentityService]]) -> None:
    client, store, operator = switchable()
    auth = key(operator.create("alice"))
    unknown = key(operator.create("bob"))
    assert _request(client, "GET", "/api/v1/namespaces", auth).get_json() == ["alice"]
    assert _request(client, "GET", "/api/v1/namespaces/_/limits", auth).status_code == 200
    store.down = True
    # The identity and the limits it read before: served, so the controller still knows who calls
    assert _request(client, "GET", "/api/v1/namespaces", auth).get_json() == ["alice"]
    limits = _request(client, "GET", "/api/v1/namespaces/_/limits", auth)
    assert limits.status_code == 200
    # What needs the store now: 503 to try again, never 500
    for method, path in [("GET", "/api/v1/namespaces/_/actions"), ("PUT", "/api/v1/namespaces/_/actions/a"),
                         ("POST", "/api/v1/namespaces/_/actions/a"), ("GET", "/api/v1/namespaces/_/activations"),
                         ("POST", "/api/v1/namespaces/_/triggers/t")]:
        unavailable(_request(client, method, path, auth))
    # A key this controller never saw: the store cannot say whether it is good, so 503 and not 401
    unavailable(_request(client, "GET", "/api/v1/namespaces", unknown))


def test_a_key_blocked_during_the_outage_is_refused_as_soon_as_the_store_is_back(
        switchable: Callable[..., tuple[FlaskClient, Switchable, IdentityService]]) -> None:
    client, store, operator = switchable()
    auth = key(operator.create("carol"))
    _request(client, "GET", "/api/v1/namespaces", auth)
    operator.set_blocked("carol", True)  # through another controller, as the outage begins
    store.down = True
    assert _request(client, "GET", "/api/v1/namespaces", auth).status_code == 200
    store.down = False
    assert _request(client, "GET", "/api/v1/namespaces", auth).status_code == 401


def test_with_serve_stale_off_a_known_key_is_503_too(
        switchable: Callable[..., tuple[FlaskClient, Switchable, IdentityService]]) -> None:
    client, store, operator = switchable(couchdb={"serve_stale_s": 0})
    auth = key(operator.create("dan"))
    _request(client, "GET", "/api/v1/namespaces", auth)
    store.down = True
    unavailable(_request(client, "GET", "/api/v1/namespaces", auth))
