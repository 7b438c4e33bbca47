"""The ``concurrentInvocations`` throttle through the API: 429 with OpenWhisk's message in the error envelope, from
the settings or a namespace's override; a slot comes back when the activation ends, or when it was never accepted.

The echo dispatcher (``conftest``) ends each activation at once and releases it, as an invoker does; a ``Reply``
that never finishes keeps its activation in flight until the test ends it (``finish``)."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import NS, Api, MakeApi, Reply, error, ok

pytestmark = pytest.mark.api


def message(count: int, allowed: int) -> str:
    return f"Too many concurrent requests in flight (count: {count}, allowed: {allowed})."


def hanging(api: Api, name: str, auth: tuple[str, str] | None = None) -> None:
    api.action(name, auth=auth)
    namespace = api.other_ns if auth == api.other else api.ns
    api.dispatcher.replies[f"{namespace}/{name}"] = Reply(finishes=False)


def test_past_the_limit_an_invoke_is_429_until_an_activation_ends(make_api: MakeApi) -> None:
    api = make_api(limits={"concurrent_invocations": 2})
    hanging(api, "slow")
    ids = [ok(api.post(f"{NS}/actions/slow", {}), 202)["activationId"] for _ in range(2)]
    refused = api.post(f"{NS}/actions/slow", {})
    assert error(refused, 429) == message(2, 2)  # the envelope: {"error", "code": <request id>}
    assert refused.get_json()["code"] == refused.headers["X-Request-ID"]
    assert refused.headers["Retry-After"] == "1"  # a slot frees whenever an activation ends: try again soon
    assert error(api.post(f"{NS}/actions/slow", {}, query={"blocking": "true"}), 429) == message(2, 2)
    assert len(api.dispatcher.published) == 2  # nothing refused reached an invoker
    hanging(api, "slow", auth=api.other)
    assert ok(api.post(f"{NS}/actions/slow", {}, auth=api.other), 202)  # another namespace counts apart
    api.dispatcher.finish(api.dispatcher.message(ids[0]))
    assert ok(api.post(f"{NS}/actions/slow", {}), 202)  # the ended activation's slot is free again
    assert error(api.post(f"{NS}/actions/slow", {}), 429) == message(2, 2)


def test_activations_that_end_give_their_slot_back(api: Api) -> None:
    api.store.put_limits(api.ns, {"concurrentInvocations": 1})
    api.action("echo")
    for n in range(5):  # each ends (and is released) before the next is invoked
        assert ok(api.post(f"{NS}/actions/echo", {"n": n}, query={"blocking": "true", "result": "true"})) == {"n": n}
        assert ok(api.post(f"{NS}/actions/echo", {"n": n}), 202)


def test_an_override_is_reported_and_throttles_only_its_namespace(api: Api) -> None:
    api.store.put_limits(api.ns, {"concurrentInvocations": 0})
    limits = ok(api.get(f"{NS}/limits"))
    assert limits["concurrentInvocations"] == 0 and limits["maxActionInstances"] == 0
    assert ok(api.get(f"{NS}/limits", auth=api.other))["concurrentInvocations"] == 30  # OpenWhisk's default
    api.action("a")
    assert error(api.post(f"{NS}/actions/a", {}), 429) == message(0, 0)
    api.action("a", auth=api.other)
    assert ok(api.post(f"{NS}/actions/a", {}, auth=api.other), 202)


def test_an_invoke_that_could_not_be_published_gives_its_slot_back(make_api: MakeApi) -> None:
    api = make_api(limits={"concurrent_invocations": 1})
    hanging(api, "slow")
    api.dispatcher.unavailable = True
    for _ in range(3):
        error(api.post(f"{NS}/actions/slow", {}), 503)  # never accepted: never in flight
    api.dispatcher.unavailable = False
    assert ok(api.post(f"{NS}/actions/slow", {}), 202)
    assert error(api.post(f"{NS}/actions/slow", {}), 429) == message(1, 1)


def test_the_per_minute_throttle_answers_first(make_api: MakeApi) -> None:
    api = make_api(limits={"concurrent_invocations": 0, "invocations_per_minute": 0})
    api.action("a")
    assert error(api.post(f"{NS}/actions/a", {}), 429) == \
        "Too many requests in the last minute (count: 1, allowed: 0)."


def test_a_sequence_starts_only_below_the_limit(make_api: MakeApi) -> None:
    api = make_api(limits={"concurrent_invocations": 1})
    hanging(api, "slow")
    api.action("seq", exec={"kind": "sequence", "components": [f"/{api.ns}/slow"]}, code=None)
    ok(api.post(f"{NS}/actions/slow", {}), 202)
    assert error(api.post(f"{NS}/actions/seq", {}), 429) == message(1, 1)


def test_web_actions_count_against_their_owner(make_api: MakeApi) -> None:
    api = make_api(limits={"concurrent_invocations": 1})
    hanging(api, "page")
    ok(api.put(f"{NS}/actions/page?overwrite=true", {"annotations": [{"key": "web-export", "value": True}]}))
    ok(api.post(f"{NS}/actions/page", {}), 202)
    refused = api.get(f"/api/v1/web/{api.ns}/default/page.json", auth=("", ""))
    assert error(refused, 429) == message(1, 1)


def test_a_rule_refused_for_concurrency_logs_the_429_in_the_trigger_record(make_api: MakeApi) -> None:
    api = make_api(limits={"concurrent_invocations": 1})
    hanging(api, "slow")
    api.trigger("t")
    api.rule("r", "/_/t", "/_/slow")
    first = ok(api.get(f"{NS}/activations/{ok(api.post(f'{NS}/triggers/t', {}), 202)['activationId']}"))
    assert json.loads(first["logs"][0])["success"] is True  # the rule's activation took the one slot
    second = ok(api.get(f"{NS}/activations/{ok(api.post(f'{NS}/triggers/t', {}), 202)['activationId']}"))
    assert json.loads(second["logs"][0]) == {"rule": f"{api.ns}/r", "action": f"{api.ns}/slow", "statusCode": 1,
                                             "success": False, "error": message(1, 1)}
