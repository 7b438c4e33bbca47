"""The admin pages through Flask's test client, against a real CouchDB-API server (pouchdb-server).

Every page renders; every form refuses a request without its CSRF token; a namespace's key holder sees only
its own namespace and never the operator's pages. Invoking needs an invoker: see tests/e2e/test_admin_browser.py.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from app.controller import create_app
from app.controller.context import Services
from app.core.entities import Activation, Status
from app.core.identities import WELL_KNOWN
from config import load_settings

pytestmark = pytest.mark.integration

OPERATOR_PASSWORD = "correct horse battery staple"
GUEST = WELL_KNOWN["guest"]
CODE = "def main(args):\n    print('hello log')\n    return {'greeting': 'Hello ' + args.get('name', 'x')}\n"
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def app(couchdb_url: str) -> Iterator[Flask]:
    run = secrets.token_hex(4)
    settings = load_settings(environ={}, overrides={
        "couchdb": {"url": couchdb_url, "prefix": f"adm{run}_"},
        "invoker": {"name": f"adm{run}", "queues": [f"adm{run}"]},
        "admin": {"operator_password_hash": generate_password_hash(OPERATOR_PASSWORD),
                  "secret_key": secrets.token_hex(16), "flower_url": "http://flower.example:5555"},
    })
    flask_app = create_app(settings)
    flask_app.config["TESTING"] = True
    services: Services = flask_app.extensions["squall"]
    services.identities.seed()
    flask_app.config["OTHER_AUTH"] = services.identities.create("other")
    yield flask_app


@pytest.fixture
def services(app: Flask) -> Services:
    found: Services = app.extensions["squall"]
    return found


def token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


def login(client: FlaskClient, login: str, password: str = "") -> Any:
    page = client.get("/admin/login")
    return client.post("/admin/login", data={"login": login, "password": password,
                                             "csrf_token": token(page.text)})


@pytest.fixture
def guest(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert login(client, GUEST).status_code == 302
    return client


@pytest.fixture
def operator(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert login(client, "admin", OPERATOR_PASSWORD).status_code == 302
    return client


@pytest.fixture
def action(services: Services) -> str:
    from app.core.names import EntityPath
    from app.core.requests import ActionPut

    name = f"a{secrets.token_hex(3)}"
    guest = services.identities.owner_of("guest")
    body = ActionPut.model_validate({"exec": {"kind": "python:default", "code": CODE}})
    services.actions.put(guest, EntityPath("guest", name), body, overwrite=False)
    return name


def store_activation(services: Services, namespace: str, name: str, status: Status = Status.SUCCESS,
                     cold: bool = False, start: int = 0) -> Activation:
    """A record as an invoker stores it (through the store port, as the invoker does)."""
    from app.core.entities import new_activation_id, now_ms

    start = start or now_ms() - 1000
    annotations: list[dict[str, Any]] = [{"key": "path", "value": f"{namespace}/{name}"},
                                         {"key": "waitTime", "value": 7}]
    if cold:
        annotations.append({"key": "initTime", "value": 40})
    record = Activation(namespace=namespace, name=name, version="0.0.1", subject=namespace,
                        activation_id=new_activation_id(), start=start, end=start + 55, status=status,
                        result={"ok": status == Status.SUCCESS}, logs=["2026-01-01T00:00:00Z stdout: hi"],
                        annotations=annotations)
    services.activations._activations.put_activation(record.to_doc())  # the invoker's write, via the port
    return record
