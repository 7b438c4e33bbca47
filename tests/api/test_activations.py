"""``/namespaces/{ns}/activations``: the list (summaries, ``docs``, ``count``, filters, paging), one record, its
result and its logs."""

from __future__ import annotations

import pytest

from app.core.entities import Status
from tests.api.conftest import NS, Api, MakeApi, Reply, error, ok

pytestmark = pytest.mark.api

ACTIVATIONS = f"{NS}/activations"


def run(api: Api, name: str, **payload: object) -> str:
    activation_id: str = ok(api.post(f"{NS}/actions/{name}", payload), 202)["activationId"]
    return activation_id


def test_list_newest_first_as_summaries(api: Api) -> None:
    api.action("a")
    ids = [run(api, "a", n=n) for n in range(3)]
    listed = ok(api.get(ACTIVATIONS))
    assert [a["activationId"] for a in listed] == ids[::-1]
    first = listed[0]
    assert set(first) == {"namespace", "name", "version", "activationId", "start", "end", "duration", "annotations",
                          "publish", "statusCode"}
    assert first["namespace"] == api.ns and first["name"] == "a" and first["statusCode"] == 0
    docs = ok(api.get(ACTIVATIONS, query={"docs": "true"}))
    assert [a["activationId"] for a in docs] == ids[::-1]
    assert docs[0]["logs"] == [] and docs[0]["response"]["result"] == {"n": 2}
    assert ok(api.get(ACTIVATIONS, query={"count": "true"})) == {"activations": 3}
    assert ok(api.get(ACTIVATIONS, auth=api.other)) == []


def test_paging(api: Api) -> None:
    api.action("a")
    ids = [run(api, "a") for _ in range(4)][::-1]
    assert [a["activationId"] for a in ok(api.get(ACTIVATIONS, query={"limit": 2}))] == ids[:2]
    assert [a["activationId"] for a in ok(api.get(ACTIVATIONS, query={"limit": 2, "skip": 1}))] == ids[1:3]
    assert [a["activationId"] for a in ok(api.get(ACTIVATIONS, query={"skip": 3}))] == ids[3:]
    assert [a["activationId"] for a in ok(api.get(ACTIVATIONS, query={"limit": 0}))] == ids


def test_filters_by_name_and_time(api: Api) -> None:
    api.action("a")
    api.action("b")
    api.package("p")
    api.action("p/a")
    first = run(api, "a")
    second = run(api, "b")
    third = run(api, "p/a")
    assert [a["activationId"] for a in ok(api.get(ACTIVATIONS, query={"name": "a"}))] == [first]
    assert [a["activationId"] for a in ok(api.get(ACTIVATIONS, query={"name": "p/a"}))] == [third]
    assert ok(api.get(ACTIVATIONS, query={"name": "a", "count": "true"})) == {"activations": 1}
    start = ok(api.get(f"{ACTIVATIONS}/{second}"))["start"]
    since = ok(api.get(ACTIVATIONS, query={"since": start}))
    assert [a["activationId"] for a in since] == [third, second]  # inclusive
    upto = ok(api.get(ACTIVATIONS, query={"upto": start}))
    assert [a["activationId"] for a in upto] == [second, first]
    assert ok(api.get(ACTIVATIONS, query={"since": start, "upto": start, "count": "true"})) == {"activations": 1}


@pytest.mark.parametrize(("query", "message"), [
    ({"docs": "true", "count": "true"}, "The parameter 'docs' is not permitted with 'count'."),
    ({"name": "a/b/c"}, "Parameter may be a 'simple' name or 'package-name/simple' name: a/b/c"),
    ({"name": "/a"}, "Parameter may be a 'simple' name or 'package-name/simple' name: /a"),
    ({"since": "yesterday"}, "Parameter is not a valid value for epoch seconds: yesterday"),
    ({"upto": "1.5"}, "Parameter is not a valid value for epoch seconds: 1.5"),
    ({"limit": "201"}, "The value '201' is not in the range of 0 to 200 for activations."),
    ({"skip": "-1"}, "The value '-1' is not a non-negative integer for activations."),
])
def test_bad_list_parameters_are_400(api: Api, query: dict[str, str], message: str) -> None:
    assert error(api.get(ACTIVATIONS, query=query), 400) == message


def test_one_record_its_result_and_its_logs(api: Api) -> None:
    api.action("a")
    api.dispatcher.replies[f"{api.ns}/a"] = Reply(result={"r": 1}, status=Status.APPLICATION_ERROR,
                                                  logs=("2024-01-01T00:00:00Z stdout: hi",))
    activation_id = run(api, "a")
    record = ok(api.get(f"{ACTIVATIONS}/{activation_id}"))
    assert record["activationId"] == activation_id and record["subject"] == api.ns
    assert record["response"] == {"status": "application error", "success": False, "result": {"r": 1}, "size": 7}
    assert record["logs"] == ["2024-01-01T00:00:00Z stdout: hi"]
    assert ok(api.get(f"/api/v1/namespaces/{api.ns}/activations/{activation_id}")) == record
    assert ok(api.get(f"{ACTIVATIONS}/{activation_id}/result")) == record["response"]
    assert ok(api.get(f"{ACTIVATIONS}/{activation_id}/logs")) == {"logs": record["logs"]}


@pytest.mark.parametrize("suffix", ["", "/result", "/logs"])
def test_unknown_short_and_foreign_ids(api: Api, suffix: str) -> None:
    api.action("a")
    activation_id = run(api, "a")
    assert error(api.get(f"{ACTIVATIONS}/{'f' * 32}{suffix}"), 404) == "The requested resource does not exist."
    assert error(api.get(f"{ACTIVATIONS}/abc{suffix}"), 400) == "Activation id length is 3 but must be 32."
    assert error(api.get(f"{ACTIVATIONS}/{'a' * 33}{suffix}"), 400) == "Activation id length is 33 but must be 32."
    assert error(api.get(f"{ACTIVATIONS}/{activation_id}{suffix}", auth=api.other), 404) == \
        "The requested resource does not exist."  # the other's own namespace has no such record
    foreign = api.get(f"/api/v1/namespaces/{api.ns}/activations/{activation_id}{suffix}", auth=api.other)
    assert error(foreign, 403) == f"The supplied authentication is not authorized to access '{api.ns}'."


def test_a_result_not_yet_recorded_is_read_from_the_dispatcher(make_api: MakeApi) -> None:
    api = make_api(controller={"record_wait_s": 0.05})  # the record never lands: a short wait for it, then this
    api.action("a")
    api.dispatcher.replies[f"{api.ns}/a"] = Reply(result={"early": True}, recorded=False)
    activation_id = run(api, "a")
    assert ok(api.get(ACTIVATIONS)) == []  # no record yet
    early = ok(api.get(f"{ACTIVATIONS}/{activation_id}"))
    assert early["response"]["result"] == {"early": True}
    # ...but only in the namespace it belongs to
    assert error(api.get(f"{ACTIVATIONS}/{activation_id}", auth=api.other), 404) == \
        "The requested resource does not exist."
