"""Sequences and conductor actions through the REST API on the real stack (controller, RabbitMQ, Redis,
pouchdb-server, an invoker with Docker): every step is a real Celery task and a real container run."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.helpers import invoke, put_action, wait_for_record

pytestmark = pytest.mark.integration

ADD = "def main(args):\n    return {'value': args.get('value', 0) + args.get('add', 1)}\n"
DOUBLE = "def main(args):\n    return {'value': args['value'] * 2}\n"
FAIL = "def main(args):\n    return {'error': 'stopped at ' + str(args.get('value'))}\n"
CONDUCTOR = (
    "def main(params):\n"
    "    step = params.pop('$step', 0)\n"
    "    if step == 0:\n"
    "        first, second = params.pop('first'), params.pop('second')\n"
    "        return {'action': first, 'params': params, 'state': {'$step': 1, 'second': second}}\n"
    "    if step == 1:\n"
    "        return {'action': params.pop('second'), 'params': params, 'state': {'$step': 2}}\n"
    "    return {'params': params}\n"
)


def put_sequence(api: httpx.Client, name: str, components: list[str], **extra: Any) -> httpx.Response:
    return api.put(f"/api/v1/namespaces/_/actions/{name}",
                   json={"exec": {"kind": "sequence", "components": components}, **extra})


def annotations(record: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: a["value"] for a in record["annotations"]}


@pytest.fixture
def three(api: httpx.Client, unique: str) -> list[str]:
    """Three actions: add 1 (add 10 by its own parameter), double, add 1."""
    put_action(api, f"{unique}-a", ADD)
    put_action(api, f"{unique}-b", DOUBLE)
    put_action(api, f"{unique}-c", ADD, parameters=[{"key": "add", "value": 10}])
    return [f"/_/{unique}-a", f"/_/{unique}-b", f"/_/{unique}-c"]


def test_create_get_update_delete(api: httpx.Client, unique: str, three: list[str]) -> None:
    created = put_sequence(api, unique, three, parameters=[{"key": "dropped", "value": 1}])
    assert created.status_code == 200, created.text
    body = created.json()
    fqns = [f"/guest/{unique}-a", f"/guest/{unique}-b", f"/guest/{unique}-c"]
    assert body["exec"] == {"kind": "sequence", "components": fqns}
    assert body["parameters"] == [{"key": "_actions", "value": fqns}]
    assert annotations(body)["exec"] == "sequence"
    assert api.get(f"/api/v1/namespaces/_/actions/{unique}").json()["exec"]["components"] == fqns
    again = put_sequence(api, unique, three)
    assert again.status_code == 409
    updated = api.put(f"/api/v1/namespaces/_/actions/{unique}", params={"overwrite": "true"},
                      json={"exec": {"kind": "sequence", "components": three[:1]}})
    assert updated.status_code == 200 and updated.json()["version"] == "0.0.2"
    assert updated.json()["exec"]["components"] == fqns[:1]
    annotated = api.put(f"/api/v1/namespaces/_/actions/{unique}", params={"overwrite": "true"},
                        json={"annotations": [{"key": "note", "value": "kept"}]})
    assert annotated.status_code == 200 and annotated.json()["exec"]["components"] == fqns[:1]
    assert annotated.json()["parameters"] == [{"key": "_actions", "value": fqns[:1]}]
    listed = api.get("/api/v1/namespaces/_/actions", params={"limit": 200}).json()
    assert any(a["name"] == unique and annotations(a)["exec"] == "sequence" for a in listed)
    deleted = api.delete(f"/api/v1/namespaces/_/actions/{unique}")
    assert deleted.status_code == 200
    assert api.get(f"/api/v1/namespaces/_/actions/{unique}").status_code == 404


def test_bad_sequences_are_400_with_openwhisk_messages(api: httpx.Client, unique: str, three: list[str]) -> None:
    missing = put_sequence(api, unique, [three[0], f"/_/{unique}-nothing"])
    assert missing.status_code == 400 and missing.json()["error"] == "Sequence component does not exist."
    empty = put_sequence(api, unique, [])
    assert empty.status_code == 400 and empty.json()["error"] == "No component specified for the sequence."
    too_long = put_sequence(api, unique, three * 17)  # 51 components
    assert too_long.status_code == 400 and too_long.json()["error"] == "Too many actions in the sequence."
    # 50 after inlining is fine, 51 is not
    assert put_sequence(api, f"{unique}-ten", [three[0]] * 10).status_code == 200
    assert put_sequence(api, f"{unique}-fifty", [f"/_/{unique}-ten"] * 5).status_code == 200
    inlined = put_sequence(api, f"{unique}-51", [f"/_/{unique}-fifty", three[0]])
    assert inlined.status_code == 400 and inlined.json()["error"] == "Too many actions in the sequence."
    itself = put_sequence(api, unique, [three[0], f"/_/{unique}"])
    assert itself.status_code == 400 and itself.json()["error"] == "Sequence may not refer to itself."
    # a cycle through nesting: s1 = [a]; s2 = [s1]; then s1 updated to [s2]
    assert put_sequence(api, f"{unique}-s1", [three[0]]).status_code == 200
    assert put_sequence(api, f"{unique}-s2", [f"/_/{unique}-s1"]).status_code == 200
    cyclic = api.put(f"/api/v1/namespaces/_/actions/{unique}-s1", params={"overwrite": "true"},
                     json={"exec": {"kind": "sequence", "components": [f"/_/{unique}-s2"]}})
    assert cyclic.status_code == 400 and cyclic.json()["error"] == "Sequence may not refer to itself."
    foreign = put_sequence(api, unique, ["/other/whatever"])
    assert foreign.status_code == 403
    assert api.get(f"/api/v1/namespaces/_/actions/{unique}").status_code == 404  # nothing was stored


def test_three_actions_blocking(api: httpx.Client, unique: str, three: list[str]) -> None:
    assert put_sequence(api, unique, three).status_code == 200
    response = invoke(api, unique, {"value": 1}, blocking="true")
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["response"]["result"] == {"value": 14}  # (1 + 1) * 2 + 10
    assert record["response"]["status"] == "success"
    assert response.headers["x-openwhisk-activation-id"] == record["activationId"]
    assert record["name"] == unique and "cause" not in record
    marks = annotations(record)
    assert marks["topmost"] is True and marks["kind"] == "sequence" and marks["path"] == f"guest/{unique}"
    assert marks["limits"]["memory"] == 256 and marks["waitTime"] >= 0
    assert len(record["logs"]) == 3
    components = [wait_for_record(api, aid) for aid in record["logs"]]
    assert [c["name"] for c in components] == [f"{unique}-a", f"{unique}-b", f"{unique}-c"]
    assert all(c["cause"] == record["activationId"] for c in components)
    assert all(annotations(c)["causedBy"] == "sequence" for c in components)
    assert record["duration"] == sum(c["duration"] for c in components)
    stored = wait_for_record(api, record["activationId"])
    assert stored["logs"] == record["logs"] and stored["duration"] == record["duration"]
    only = invoke(api, unique, {"value": 0}, blocking="true", result="true")
    assert only.status_code == 200 and only.json() == {"value": 12}


def test_three_actions_non_blocking(api: httpx.Client, unique: str, three: list[str]) -> None:
    assert put_sequence(api, unique, three).status_code == 200
    response = invoke(api, unique, {"value": 5})
    assert response.status_code == 202
    aid = response.json()["activationId"]
    record = wait_for_record(api, aid)
    assert record["response"]["result"] == {"value": 22}
    assert len(record["logs"]) == 3
    listed = api.get("/api/v1/namespaces/_/activations", params={"name": unique}).json()
    assert [a["activationId"] for a in listed] == [aid]


def test_an_error_in_the_middle_stops_it(api: httpx.Client, unique: str, three: list[str]) -> None:
    put_action(api, f"{unique}-fail", FAIL)
    assert put_sequence(api, unique, [three[0], f"/_/{unique}-fail", three[1]]).status_code == 200
    response = invoke(api, unique, {"value": 1}, blocking="true")
    assert response.status_code == 502
    record = response.json()
    assert record["response"]["status"] == "application error"
    assert record["response"]["result"] == {"error": "stopped at 2"}
    assert len(record["logs"]) == 2
    failed = wait_for_record(api, record["logs"][1])
    assert failed["name"] == f"{unique}-fail" and failed["response"]["status"] == "application error"
    later = api.get("/api/v1/namespaces/_/activations", params={"name": f"{unique}-b"}).json()
    assert later == []  # the third component never ran


def test_nested_sequences(api: httpx.Client, unique: str, three: list[str]) -> None:
    assert put_sequence(api, f"{unique}-inner", three[1:]).status_code == 200
    assert put_sequence(api, unique, [three[0], f"/_/{unique}-inner", three[0]]).status_code == 200
    response = invoke(api, unique, {"value": 1}, blocking="true")
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["response"]["result"] == {"value": 15}  # ((1 + 1) * 2 + 10) + 1
    assert len(record["logs"]) == 3
    inner = wait_for_record(api, record["logs"][1])
    assert inner["name"] == f"{unique}-inner" and inner["cause"] == record["activationId"]
    assert annotations(inner)["topmost"] is False and annotations(inner)["causedBy"] == "sequence"
    assert len(inner["logs"]) == 2
    for aid in inner["logs"]:
        assert wait_for_record(api, aid)["cause"] == inner["activationId"]
    outer_components = [wait_for_record(api, record["logs"][i]) for i in (0, 2)]
    assert record["duration"] == inner["duration"] + sum(c["duration"] for c in outer_components)


def test_conductor_with_two_steps(api: httpx.Client, unique: str, three: list[str]) -> None:
    put_action(api, unique, CONDUCTOR, annotations=[{"key": "conductor", "value": True}])
    response = invoke(api, unique, {"value": 3, "first": f"{unique}-b", "second": f"/guest/{unique}-a"},
                      blocking="true")
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["response"]["result"] == {"value": 7}  # 3 * 2 + 1
    marks = annotations(record)
    assert marks["conductor"] is True and marks["kind"] == "sequence" and marks["topmost"] is True
    assert len(record["logs"]) == 5  # conductor, b, conductor, a, conductor
    steps = [wait_for_record(api, aid) for aid in record["logs"]]
    assert [s["name"] for s in steps] == [unique, f"{unique}-b", unique, f"{unique}-a", unique]
    assert all(s["cause"] == record["activationId"] for s in steps)
    assert record["duration"] == sum(s["duration"] for s in steps)
    stored = wait_for_record(api, record["activationId"])
    assert stored["response"]["result"] == {"value": 7}


def test_conductor_naming_a_missing_action_is_told_so(api: httpx.Client, unique: str) -> None:
    put_action(api, unique, "def main(p):\n    return {'params': p} if 'error' in p else {'action': 'nope'}\n",
               annotations=[{"key": "conductor", "value": True}])
    response = invoke(api, unique, blocking="true", result="true")
    assert response.status_code == 200
    assert response.json() == {"error": "Failed to resolve action with name 'guest/nope' during composition."}


def test_blocking_past_its_wait_answers_202_and_the_record_lands(api: httpx.Client, unique: str,
                                                                 three: list[str]) -> None:
    put_action(api, f"{unique}-slow", "import time\ndef main(args):\n    time.sleep(2)\n    return args\n")
    assert put_sequence(api, unique, [three[0], f"/_/{unique}-slow"]).status_code == 200
    response = invoke(api, unique, {"value": 1}, blocking="true", timeout="300")
    assert response.status_code == 202
    aid = response.json()["activationId"]
    assert response.headers["x-openwhisk-activation-id"] == aid
    record = wait_for_record(api, aid)
    assert record["response"]["result"] == {"value": 2} and len(record["logs"]) == 2


def test_a_component_deleted_after_create(api: httpx.Client, unique: str, three: list[str]) -> None:
    assert put_sequence(api, unique, three).status_code == 200
    assert api.delete(f"/api/v1/namespaces/_/actions/{unique}-b").status_code == 200
    response = invoke(api, unique, {"value": 1}, blocking="true")
    assert response.status_code == 502
    record = response.json()
    assert record["response"]["status"] == "application error"
    assert record["response"]["result"] == {"error": "Sequence component does not exist."}
    assert len(record["logs"]) == 1


def test_an_array_result_flows_to_the_next_component(api: httpx.Client, unique: str) -> None:
    put_action(api, f"{unique}-split", "def main(args):\n    return args['text'].split()\n")
    put_action(api, f"{unique}-count", "def main(words):\n    return {'words': len(words), 'first': words[0]}\n")
    assert put_sequence(api, unique, [f"/_/{unique}-split", f"/_/{unique}-count"]).status_code == 200
    response = invoke(api, unique, {"text": "one two three"}, blocking="true", result="true")
    assert response.status_code == 200, response.text
    assert response.json() == {"words": 3, "first": "one"}
