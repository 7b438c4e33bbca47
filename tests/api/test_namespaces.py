"""``/namespaces`` (the caller's namespace) and ``/namespaces/{ns}/limits`` (its limits, with an operator's
overrides)."""

from __future__ import annotations

import pytest

from tests.api.conftest import CODE, GUEST, Api, MakeApi, error, ok

pytestmark = pytest.mark.api


def test_the_callers_namespace(api: Api) -> None:
    assert ok(api.get("/api/v1/namespaces")) == [api.ns]
    assert ok(api.get("/api/v1/namespaces", auth=api.other)) == [api.other_ns]
    assert ok(api.get("/api/v1/namespaces", auth=GUEST)) == ["guest"]


def test_limits_with_the_defaults(api: Api) -> None:
    expected = {
        "invocationsPerMinute": 60, "concurrentInvocations": 30, "firesPerMinute": 60,
        "maxActionMemory": 512, "minActionMemory": 128, "maxActionLogs": 10, "minActionLogs": 0,
        "maxActionTimeout": 300_000, "minActionTimeout": 100, "maxActionConcurrency": 500, "minActionConcurrency": 1,
        "maxParameterSize": "1 MB", "maxActionInstances": 30, "activationsKeepDays": 30,
    }
    assert ok(api.get("/api/v1/namespaces/_/limits")) == expected
    assert ok(api.get(f"/api/v1/namespaces/{api.ns}/limits")) == expected


def test_limits_follow_the_settings(make_api: MakeApi) -> None:
    api = make_api(limits={"invocations_per_minute": 5, "fires_per_minute": 6, "concurrent_invocations": 7,
                           "max_memory_mb": 2048, "parameters_bytes": 5 * 1_048_576})
    limits = ok(api.get("/api/v1/namespaces/_/limits"))
    assert limits["invocationsPerMinute"] == 5 and limits["firesPerMinute"] == 6
    assert limits["concurrentInvocations"] == 7 and limits["maxActionInstances"] == 7
    assert limits["maxActionMemory"] == 2048 and limits["maxParameterSize"] == "5 MB"


def test_a_parameter_size_under_a_megabyte_is_not_zero(make_api: MakeApi) -> None:
    api = make_api(limits={"parameters_bytes": 512 * 1024})
    assert ok(api.get("/api/v1/namespaces/_/limits"))["maxParameterSize"] == "512 KB"


def test_an_override_shows_for_its_namespace_only(api: Api) -> None:
    api.store.put_limits(api.ns, {"invocationsPerMinute": 2, "firesPerMinute": 0})
    mine = ok(api.get("/api/v1/namespaces/_/limits"))
    assert mine["invocationsPerMinute"] == 2 and mine["firesPerMinute"] == 0
    theirs = ok(api.get("/api/v1/namespaces/_/limits", auth=api.other))
    assert theirs["invocationsPerMinute"] == 60 and theirs["firesPerMinute"] == 60
    api.store.put_limits(api.ns, {})
    assert ok(api.get("/api/v1/namespaces/_/limits"))["invocationsPerMinute"] == 60


def test_retention_overrides_show_and_the_invoke_message_carries_store_activations(api: Api) -> None:
    api.store.put_limits(api.ns, {"activationsKeepDays": 3, "storeActivations": False})
    mine = ok(api.get("/api/v1/namespaces/_/limits"))
    assert mine["activationsKeepDays"] == 3 and mine["storeActivations"] is False
    theirs = ok(api.get("/api/v1/namespaces/_/limits", auth=api.other))
    assert theirs["activationsKeepDays"] == 30 and "storeActivations" not in theirs  # shown only when off

    for auth in (None, api.other):
        assert api.put("/api/v1/namespaces/_/actions/echo", json={"exec": {"kind": "python:3", "code": CODE}},
                       auth=auth).status_code == 200
        assert api.post("/api/v1/namespaces/_/actions/echo", json={}, auth=auth).status_code == 202
    mine_sent, theirs_sent = api.dispatcher.published[-2:]
    assert (mine_sent.namespace, mine_sent.store_record) == (api.ns, False)
    assert (theirs_sent.namespace, theirs_sent.store_record) == (api.other_ns, True)


def test_another_namespaces_limits_are_403(api: Api) -> None:
    response = api.get(f"/api/v1/namespaces/{api.other_ns}/limits")
    assert error(response, 403) == f"The supplied authentication is not authorized to access '{api.other_ns}'."
    assert error(api.get("/api/v1/namespaces/nobody/limits"), 403) == \
        "The supplied authentication is not authorized to access 'nobody'."
