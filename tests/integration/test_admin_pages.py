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
                  "secret_key": secrets.token_hex(16), "flower_url": "http://flower.example:5555",
                  "login_attempts_per_minute": 1_000_000},  # every test here logs in from one address
    })
    flask_app = create_app(settings)
    flask_app.config["TESTING"] = True
    services: Services = flask_app.extensions["squall"]
    services.identities.seed()
    flask_app.config["OTHER_AUTH"] = services.identities.create("other")
    yield flask_app
    flask_app.extensions["squall_store"].close()


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


# --- login, sessions, cookies ---------------------------------------------------------------------------


def test_pages_redirect_to_login_until_logged_in(app: Flask) -> None:
    client = app.test_client()
    for url in ("/admin/", "/admin/dashboard", "/admin/ns/guest/actions", "/admin/namespaces", "/admin/invokers"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/admin/login")


def test_login_with_a_namespace_key_sets_a_hardened_session_cookie(app: Flask) -> None:
    client = app.test_client()
    uuid, key = GUEST.split(":", 1)
    response = login(client, uuid, key)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/dashboard"
    cookie = next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("squall_admin="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin" in cookie
    page = client.get("/admin/dashboard")
    assert page.status_code == 200 and "namespace <b>guest</b>" in page.text
    assert page.headers["Cache-Control"] == "no-store"


def test_bad_credentials_are_refused(app: Flask) -> None:
    client = app.test_client()
    assert login(client, GUEST + "x").status_code == 401
    assert login(client, "admin", "wrong").status_code == 401
    assert login(client, "not-a-key").status_code == 401
    assert client.get("/admin/dashboard").status_code == 302


def test_login_only_redirects_within_the_admin_pages(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/admin/login")
    evil = client.post("/admin/login?next=https://evil.example/x",
                       data={"login": GUEST, "csrf_token": token(page.text)})
    assert evil.headers["Location"] == "/admin/dashboard"


def test_logout_ends_the_session(guest: FlaskClient) -> None:
    page = guest.get("/admin/dashboard")
    assert guest.post("/admin/logout", data={"csrf_token": token(page.text)}).status_code == 302
    assert guest.get("/admin/dashboard").status_code == 302


# --- CSRF: every form refuses a request without its token ---------------------------------------------


def test_login_without_csrf_token_is_refused(app: Flask) -> None:
    client = app.test_client()
    client.get("/admin/login")
    assert client.post("/admin/login", data={"login": GUEST}).status_code == 400
    assert client.get("/admin/dashboard").status_code == 302


@pytest.mark.parametrize("form", ["logout", "invoke", "delete"])
def test_namespace_forms_without_csrf_token_are_refused(guest: FlaskClient, action: str, form: str) -> None:
    url = {"logout": "/admin/logout", "invoke": f"/admin/ns/guest/invoke-action/{action}",
           "delete": f"/admin/ns/guest/delete-action/{action}"}[form]
    response = guest.post(url, data={"params": "{}", "blocking": "y"})
    assert response.status_code == 400
    assert "CSRF" in response.text
    assert guest.get(f"/admin/ns/guest/actions/{action}").status_code == 200  # still there, still logged in


@pytest.mark.parametrize("url", ["/admin/namespaces", "/admin/subjects/other/namespaces/other/rotate",
                                 "/admin/subjects/other/namespaces/other/revoke", "/admin/subjects/other/block",
                                 "/admin/subjects/other/unblock"])
def test_operator_forms_without_csrf_token_are_refused(operator: FlaskClient, services: Services, url: str) -> None:
    before = services.identities.owner_of("other")
    assert operator.post(url, data={"namespace": "n" + secrets.token_hex(3)}).status_code == 400
    after = services.identities.owner_of("other")
    assert (after.uuid, after.key_hash, after.blocked) == (before.uuid, before.key_hash, before.blocked)


# --- permissions: a namespace sees itself only, never the operator's pages ----------------------------


def test_a_namespace_cannot_see_another_namespace(guest: FlaskClient, services: Services) -> None:
    theirs = store_activation(services, "other", "secret")
    for url in ("/admin/ns/other/actions", "/admin/ns/other/activations", "/admin/ns/other/events",
                f"/admin/ns/other/activations/{theirs.activation_id}", "/admin/ns/other/actions/secret"):
        response = guest.get(url)
        assert response.status_code == 403, url
        assert "not authorized" in response.text
    assert theirs.activation_id not in guest.get("/admin/dashboard").text


def test_a_namespace_cannot_use_the_operator_pages(guest: FlaskClient) -> None:
    csrf = token(guest.get("/admin/dashboard").text)
    assert guest.get("/admin/namespaces").status_code == 403
    assert guest.get("/admin/invokers").status_code == 403
    for url in ("/admin/namespaces", "/admin/subjects/other/namespaces/other/rotate",
                "/admin/subjects/other/namespaces/other/revoke", "/admin/subjects/other/block"):
        assert guest.post(url, data={"csrf_token": csrf, "namespace": "x"}).status_code == 403, url
    assert "Namespaces</a>" not in guest.get("/admin/dashboard").text


# --- the pages ----------------------------------------------------------------------------------------


def test_actions_list_and_detail_with_highlighted_code(guest: FlaskClient, services: Services, action: str) -> None:
    store_activation(services, "guest", action)
    listed = guest.get("/admin/ns/guest/actions?limit=200")
    assert listed.status_code == 200 and f">{action}</a>" in listed.text and "python:3" in listed.text
    detail = guest.get(f"/admin/ns/guest/actions/{action}")
    assert detail.status_code == 200
    assert 'class="highlight"' in detail.text and '<span class="k">def</span>' in detail.text
    assert "timeout 60000 ms" in detail.text and 'name="params"' in detail.text


def test_invoke_form_rejects_parameters_that_are_not_a_json_object(guest: FlaskClient, action: str) -> None:
    page = guest.get(f"/admin/ns/guest/actions/{action}")
    response = guest.post(f"/admin/ns/guest/invoke-action/{action}",
                          data={"params": "[1, 2]", "blocking": "y", "csrf_token": token(page.text)})
    assert response.status_code == 400
    assert "parameters must be a JSON object" in response.text


def test_delete_asks_first_then_deletes(guest: FlaskClient, action: str) -> None:
    confirm = guest.get(f"/admin/ns/guest/delete-action/{action}")
    assert confirm.status_code == 200 and f"Delete {action}" in confirm.text
    assert guest.get(f"/admin/ns/guest/actions/{action}").status_code == 200
    done = guest.post(f"/admin/ns/guest/delete-action/{action}", data={"csrf_token": token(confirm.text)})
    assert done.status_code == 302
    assert guest.get(f"/admin/ns/guest/actions/{action}").status_code == 404


def test_activations_table_filters_and_pages(guest: FlaskClient, services: Services) -> None:
    name = f"f{secrets.token_hex(3)}"
    ok = store_activation(services, "guest", name, cold=True)
    bad = store_activation(services, "guest", name, status=Status.APPLICATION_ERROR)
    everything = guest.get(f"/admin/ns/guest/activations?name={name}")
    assert ok.activation_id in everything.text and bad.activation_id in everything.text
    errors = guest.get(f"/admin/ns/guest/activations?name={name}&status=application+error")
    assert bad.activation_id in errors.text and ok.activation_id not in errors.text
    cold = guest.get(f"/admin/ns/guest/activations?name={name}&start=cold")
    assert ok.activation_id in cold.text and bad.activation_id not in cold.text
    first = guest.get(f"/admin/ns/guest/activations?name={name}&limit=1")
    assert first.text.count("/admin/ns/guest/activations/") == 1 and "older →" in first.text and "1–1" in first.text
    later = guest.get(f"/admin/ns/guest/activations?name={name}&since=2000-01-01T00:00&until=2001-01-01T00:00")
    assert ok.activation_id not in later.text and "No activations match" in later.text
    assert guest.get("/admin/ns/guest/activations?since=yesterday").status_code == 400
    fragment = guest.get(f"/admin/ns/guest/activations?name={name}", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and ok.activation_id in fragment.text


def test_activation_detail_shows_result_logs_and_timings(guest: FlaskClient, services: Services) -> None:
    cold = store_activation(services, "guest", "timed", cold=True)
    page = guest.get(f"/admin/ns/guest/activations/{cold.activation_id}")
    assert page.status_code == 200
    assert "cold start" in page.text and "wait 7 ms" in page.text and "init 40 ms" in page.text
    assert "run 15 ms" in page.text and "stdout: hi" in page.text and "\"ok\": true" in page.text
    assert "flower.example" not in page.text  # Flower links are for the operator
    logs = guest.get(f"/admin/ns/guest/activations/{cold.activation_id}/logs")
    assert 'id="logs"' in logs.text and "stdout: hi" in logs.text


def test_dashboard_counts_activation_records(guest: FlaskClient, services: Services) -> None:
    before = guest.get("/admin/dashboard.json?minutes=5").get_json()
    store_activation(services, "guest", "dash", status=Status.DEVELOPER_ERROR, cold=True)
    after = guest.get("/admin/dashboard.json?minutes=5").get_json()
    assert after["total"] == before["total"] + 1
    assert after["by_status"]["action developer error"] == before["by_status"]["action developer error"] + 1
    assert after["cold"] == before["cold"] + 1
    assert any(a["name"] == "guest/dash" for a in after["top_by_errors"])
    page = guest.get("/admin/dashboard?minutes=5")
    assert page.status_code == 200 and "guest/dash" in page.text and "uPlot" in page.text


def test_operator_sees_every_namespace_and_the_invokers(operator: FlaskClient, services: Services) -> None:
    theirs = store_activation(services, "other", "op-visible")
    assert operator.get(f"/admin/ns/other/activations/{theirs.activation_id}").status_code == 200
    assert "other/op-visible" in operator.get("/admin/dashboard?minutes=5").text
    page = operator.get("/admin/namespaces")
    assert page.status_code == 200 and ">guest</a>" in page.text and ">other</a>" in page.text
    assert "flower.example:5555" in page.text
    invokers = operator.get("/admin/invokers")
    assert invokers.status_code == 200
    queue = services.settings.invoker.queues[0]
    assert queue in invokers.text and "down" in invokers.text  # configured, but no invoker runs in this test
    assert operator.get("/admin/ns/nobody/actions").status_code == 404


def test_operator_creates_rotates_revokes_and_blocks_keys(app: Flask, operator: FlaskClient) -> None:
    namespace = f"n{secrets.token_hex(3)}"
    csrf = token(operator.get("/admin/namespaces").text)
    created = operator.post("/admin/namespaces", data={"namespace": namespace, "csrf_token": csrf})
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    first = re.search(r'<pre class="key" id="credentials">([^<]+)</pre>', created.text).group(1)  # type: ignore[union-attr]

    user = app.test_client()
    assert login(user, first).status_code == 302
    assert user.get(f"/admin/ns/{namespace}/actions").status_code == 200

    rotated = operator.post(f"/admin/subjects/{namespace}/namespaces/{namespace}/rotate", data={"csrf_token": csrf})
    second = re.search(r'id="credentials">([^<]+)</pre>', rotated.text).group(1)  # type: ignore[union-attr]
    assert second != first
    assert user.get(f"/admin/ns/{namespace}/actions").status_code == 302  # the old key's session ended
    assert login(app.test_client(), first).status_code == 401
    assert login(user, second).status_code == 302

    blocked = operator.post(f"/admin/subjects/{namespace}/block", data={"csrf_token": csrf})
    assert blocked.status_code == 302
    assert user.get("/admin/dashboard").status_code == 302
    assert login(app.test_client(), second).status_code == 401
    operator.post(f"/admin/subjects/{namespace}/unblock", data={"csrf_token": csrf})
    assert login(user, second).status_code == 302

    revoked = operator.post(f"/admin/subjects/{namespace}/namespaces/{namespace}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 302
    assert user.get("/admin/dashboard").status_code == 302
    assert login(app.test_client(), second).status_code == 401
    assert "Revoked the key" in operator.get("/admin/namespaces").text


def test_creating_a_namespace_with_a_bad_name_says_why(operator: FlaskClient) -> None:
    csrf = token(operator.get("/admin/namespaces").text)
    response = operator.post("/admin/namespaces", data={"namespace": "bad/name", "csrf_token": csrf})
    assert response.status_code == 400 and "illegal characters" in response.text


def test_the_logs_fragment_polls_for_a_while_then_stops(guest: FlaskClient) -> None:
    missing = "0" * 32
    first = guest.get(f"/admin/ns/guest/activations/{missing}/logs")
    assert first.status_code == 200 and "poll=1" in first.text and "hx-get" in first.text
    last = guest.get(f"/admin/ns/guest/activations/{missing}/logs?poll=119")
    assert "hx-get" not in last.text and "Not stored yet" in last.text


def test_without_a_configured_secret_every_controller_shares_one_from_the_store(app: Flask) -> None:
    settings = app.extensions["squall"].settings.replace(admin={"secret_key": ""})
    first, second = create_app(settings), create_app(settings)
    try:
        assert first.secret_key == second.secret_key and len(str(first.secret_key)) == 64
        one = first.test_client()
        assert login(one, GUEST).status_code == 302
        cookie = one.get_cookie("squall_admin", path="/admin")
        assert cookie is not None
        other = second.test_client()
        other.set_cookie("squall_admin", cookie.value, path="/admin")
        page = other.get("/admin/dashboard")  # a session made by one controller holds on another
        assert page.status_code == 200 and "namespace <b>guest</b>" in page.text
    finally:
        for made in (first, second):
            made.extensions["squall_store"].close()


def test_triggers_rules_and_packages_are_listed_with_their_links(guest: FlaskClient, services: Services,
                                                                  action: str) -> None:
    from app.core.requests import PackagePut, RulePut, TriggerPut

    me = services.identities.owner_of("guest")
    unique = f"e{secrets.token_hex(3)}"
    services.packages.put(me, "guest", f"{unique}-p", PackagePut.model_validate({"publish": True}), overwrite=False)
    services.packages.put(me, "guest", f"{unique}-b", PackagePut.model_validate(
        {"binding": {"namespace": "guest", "name": f"{unique}-p"}}), overwrite=False)
    services.triggers.put(me, "guest", unique, TriggerPut.model_validate({}), overwrite=False)
    services.triggers.put(me, "guest", f"{unique}-idle", TriggerPut.model_validate({}), overwrite=False)
    services.rules.put(me, "guest", f"{unique}-r", RulePut.model_validate(
        {"trigger": f"/guest/{unique}", "action": f"/guest/{action}"}), overwrite=False)
    page = guest.get("/admin/ns/guest/events")
    assert page.status_code == 200
    html = page.text
    assert f"guest/{unique}-r" in html and "active" in html
    assert f'href="/admin/ns/guest/actions/{action}"' in html  # trigger → rule → the action's page
    assert "no rule: a fire answers 204" in html  # the idle trigger
    assert f"/guest/{unique}-p</td>" in html  # the binding names what it binds
    assert "Triggers &amp; packages" in guest.get("/admin/ns/guest/actions").text


def test_operator_sets_a_namespaces_limits(operator: FlaskClient, services: Services) -> None:
    page = operator.get("/admin/namespaces")
    assert "Per-namespace overrides" in page.text
    refused = operator.post("/admin/namespaces/limits", data={"namespace": "other", "invocations_per_minute": "7"})
    assert refused.status_code == 400 and services.limits.overrides("other") == {}  # no CSRF token
    saved = operator.post("/admin/namespaces/limits", data={
        "namespace": "other", "invocations_per_minute": "7", "fires_per_minute": "", "concurrent_invocations": "3",
        "csrf_token": token(page.text)})
    assert saved.status_code == 302
    assert services.limits.overrides("other") == {"invocationsPerMinute": 7, "concurrentInvocations": 3}
    assert services.limits.of("other").invocations_per_minute == 7
    assert services.limits.of("other").concurrent_invocations == 3
    listed = operator.get("/admin/namespaces").text
    row = '<td>other</td>\n      <td class="n">7</td>\n      <td class="n">—</td>\n      <td class="n">3</td>'
    assert row in listed  # the overrides table: per minute, fires (none), concurrent
    retention = operator.post("/admin/namespaces/limits", data={
        "namespace": "other", "activations_keep_days": "3", "store_activations": "false",
        "csrf_token": token(page.text)})
    assert retention.status_code == 302
    assert services.limits.overrides("other") == {"activationsKeepDays": 3, "storeActivations": False}
    shown = operator.get("/admin/namespaces").text
    assert "activation records kept (days)" in shown and "records stored" in shown
    row = '<td>other</td>\n      <td class="n">—</td>\n      <td class="n">—</td>\n      <td class="n">—</td>\n' \
          '      <td class="n">3</td>\n      <td>no</td>'
    assert row in shown  # per minute, fires, concurrent (none of them now), days, stored
    services.limits.set("other", {})


def test_a_namespace_cannot_set_limits(guest: FlaskClient) -> None:
    page = guest.get("/admin/ns/guest/actions")
    assert guest.post("/admin/namespaces/limits", data={"namespace": "guest", "invocations_per_minute": "9999",
                                                        "csrf_token": token(page.text)}).status_code == 403


def test_login_attempts_are_throttled_per_address(couchdb_url: str) -> None:
    from app.state.counters import MemoryCounters

    run = secrets.token_hex(4)
    settings = load_settings(environ={}, overrides={
        "couchdb": {"url": couchdb_url, "prefix": f"adm{run}_"},
        "invoker": {"name": f"adm{run}", "queues": [f"adm{run}"]},
        "admin": {"secret_key": secrets.token_hex(16), "login_attempts_per_minute": 3},
    })
    throttled_app = create_app(settings, counter=MemoryCounters())
    throttled_app.config["TESTING"] = True
    try:
        client = throttled_app.test_client()
        statuses = [login(client, "nobody", "wrong").status_code for _ in range(3)]
        assert statuses == [401, 401, 401]
        refused = login(client, GUEST)  # even the right key, once the address is over its attempts
        assert refused.status_code == 429 and "Too many login attempts" in refused.text
        assert 1 <= int(refused.headers["Retry-After"]) <= 60  # the rest of the minute counted in
    finally:
        throttled_app.extensions["squall_store"].close()
