"""``GET /metrics`` of the controller: only to bearers of ``metrics.token`` (off without one), in Prometheus' text
format as the client library's own parser reads it; activations accepted counted by namespace and kind, and
every 429 by throttle and namespace. (Summed over gunicorn's workers: tests/integration/test_metrics.py.)"""

from __future__ import annotations

import base64

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.controller.metrics import OFF, UNAUTHORIZED
from tests.api.conftest import NO_AUTH, NS, Api, MakeApi, Reply, error, ok

pytestmark = pytest.mark.api

TOKEN = "metrics-token-for-the-api-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def samples(api: Api, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples named ``name`` in a scrape, by their labels."""
    response = api.get("/metrics", auth=NO_AUTH, headers=BEARER)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


@pytest.fixture
def metered(make_api: MakeApi) -> Api:
    return make_api(metrics={"token": TOKEN}, limits={"invocations_per_minute": 3})


def test_without_a_token_set_no_metrics_are_served(api: Api) -> None:
    assert error(api.get("/metrics", auth=NO_AUTH, headers=BEARER), 403, OFF)
    assert error(api.get("/metrics"), 403, OFF)  # a namespace's key is not the metrics token either


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-of-some-length", f"Basic {TOKEN}",
                                           f"Bearer {TOKEN}x", "Bearer"])
def test_only_the_token_as_a_bearer_token_reads_them(metered: Api, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = metered.get("/metrics", auth=NO_AUTH, headers=headers)
    assert error(response, 401, UNAUTHORIZED)
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_a_namespace_key_is_not_the_token(metered: Api) -> None:
    basic = "Basic " + base64.b64encode(":".join(metered.auth).encode()).decode()
    assert error(metered.get("/metrics", auth=NO_AUTH, headers={"Authorization": basic}), 401)


def test_accepted_activations_are_counted_by_namespace_and_kind(metered: Api) -> None:
    metered.action("a")
    metered.action("n", code="function main(a) { return a }", kind="nodejs:18")
    for _ in range(2):
        ok(metered.post(f"{NS}/actions/a", {}), 202)
    ok(metered.post(f"{NS}/actions/n", {}, query={"blocking": "true"}))
    accepted = samples(metered, "squall_activations_accepted_total")
    assert accepted[(("kind", "python:3"), ("namespace", metered.ns))] == 2
    assert accepted[(("kind", "nodejs:18"), ("namespace", metered.ns))] == 1
    assert not any(("namespace", metered.other_ns) in labels for labels in accepted)


def test_every_429_is_counted_by_throttle_and_namespace(metered: Api) -> None:
    metered.action("a")
    answers = [metered.post(f"{NS}/actions/a", {}).status_code for _ in range(8)]
    throttled = answers.count(429)
    assert throttled >= 2  # 3 a minute: 8 in a row overflow one window even if a minute turns
    counted = samples(metered, "squall_throttled_requests_total")
    assert counted == {(("namespace", metered.ns), ("reason", "invocations")): throttled}
    accepted = samples(metered, "squall_activations_accepted_total")
    assert accepted[(("kind", "python:3"), ("namespace", metered.ns))] == answers.count(202)


def test_fires_and_failed_authentications_have_their_own_reasons(make_api: MakeApi) -> None:
    api = make_api(metrics={"token": TOKEN}, limits={"fires_per_minute": 0},
                   controller={"auth_failures_per_minute": 1})
    api.trigger("t")
    error(api.post(f"{NS}/triggers/t", {}), 429)
    error(api.get(f"{NS}/actions", auth=(api.auth[0], "not-the-key")), 401)
    error(api.get(f"{NS}/actions", auth=(api.auth[0], "not-the-key")), 429)
    counted = samples(api, "squall_throttled_requests_total")
    assert counted == {(("namespace", api.ns), ("reason", "fires")): 1,
                       (("namespace", ""), ("reason", "auth_failures")): 1}


def test_openmetrics_when_asked_for(metered: Api) -> None:
    response = metered.get("/metrics", auth=NO_AUTH, headers={**BEARER, "Accept": "application/openmetrics-text"})
    assert response.status_code == 200
    assert response.mimetype == "application/openmetrics-text"
    assert response.get_data(as_text=True).endswith("# EOF\n")


def test_concurrent_invocations_have_their_own_reason(make_api: MakeApi) -> None:
    api = make_api(metrics={"token": TOKEN}, limits={"concurrent_invocations": 1})
    api.action("slow")
    api.dispatcher.replies[f"{api.ns}/slow"] = Reply(finishes=False)
    ok(api.post(f"{NS}/actions/slow", {}), 202)
    error(api.post(f"{NS}/actions/slow", {}), 429)
    counted = samples(api, "squall_throttled_requests_total")
    assert counted == {(("namespace", api.ns), ("reason", "concurrent")): 1}
