"""``/namespaces/{ns}/rules``: CRUD, enabling and disabling, the link a rule keeps on its trigger, and rules into
another namespace's public package."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import NS, Api, MakeApi, as_dict, error, kv, next_ms, ok

pytestmark = pytest.mark.api

RULES = f"{NS}/rules"
NEEDS_BOTH = "rule requires a valid trigger and a valid action"


def make(api: Api) -> None:
    api.action("a")
    api.trigger("t")
    api.rule("r", "/_/t", "/_/a")


def test_rule_crud(api: Api) -> None:
    api.action("a")
    api.trigger("t")
    created = api.rule("r", "/_/t", "/_/a")
    assert created == {"namespace": api.ns, "name": "r", "version": "0.0.1", "publish": False, "annotations": [],
                       "trigger": {"path": api.ns, "name": "t"}, "action": {"path": api.ns, "name": "a"},
                       "updated": created["updated"], "status": "active"}
    assert ok(api.get(f"{RULES}/r")) == created
    assert error(api.put(f"{RULES}/r", {"trigger": "/_/t", "action": "/_/a"}), 409) == "resource already exists"
    deleted = ok(api.delete(f"{RULES}/r"))
    assert deleted["name"] == "r" and deleted["status"] == "inactive"
    assert error(api.get(f"{RULES}/r"), 404) == "The requested resource does not exist."
    assert error(api.delete(f"{RULES}/r"), 404) == "The requested resource does not exist."
    assert "rules" not in ok(api.get(f"{NS}/triggers/t"))  # the link went with it


def test_list_newest_first_without_status_with_paging_and_count(api: Api) -> None:
    api.action("a")
    api.trigger("t")
    for name in ("z", "y", "x"):
        api.rule(name, "/_/t", "/_/a")
        next_ms()
    listed = ok(api.get(RULES))
    assert [r["name"] for r in listed] == ["x", "y", "z"]
    assert "status" not in listed[0] and listed[0]["trigger"] == {"path": api.ns, "name": "t"}
    assert [r["name"] for r in ok(api.get(RULES, query={"skip": 2}))] == ["z"]
    assert ok(api.get(RULES, query={"count": "true"})) == {"rules": 3}


def test_status_enable_disable_and_errors(api: Api) -> None:
    make(api)
    rule = f"{RULES}/r"
    bad = api.post(rule, {"status": "paused"})
    assert error(bad, 400) == "'paused' is not a recognized rule state, must be one of ['active', 'inactive']"
    assert error(api.post(rule, {}), 400) == \
        "'None' is not a recognized rule state, must be one of ['active', 'inactive']"
    assert error(api.post(rule, data=b"[]"), 400) == "The request content was malformed:\nexpected a JSON object"
    disabled = api.post(rule, {"status": "inactive", "trigger": None, "action": None})
    assert disabled.status_code == 200 and disabled.get_data(as_text=True) == "OK"
    assert disabled.mimetype == "text/plain"
    assert ok(api.get(rule))["status"] == "inactive"
    assert ok(api.get(f"{NS}/triggers/t"))["rules"][f"{api.ns}/r"]["status"] == "inactive"
    assert api.post(rule, {"status": "inactive"}).status_code == 200  # the same again: nothing changes
    assert api.post(f"{NS}/triggers/t", {}).status_code == 204  # no active rule
    assert api.post(rule, {"status": "active"}).status_code == 200
    assert ok(api.get(rule))["status"] == "active"
    assert error(api.post(f"{RULES}/missing", {"status": "active"}), 404) == "The requested resource does not exist."


def test_overwrite_keeps_the_status_and_moves_the_link(api: Api) -> None:
    make(api)
    api.trigger("t2")
    ok(api.post(f"{RULES}/r", {"status": "inactive"}))
    again = ok(api.put(f"{RULES}/r", {"trigger": "/_/t", "action": "/_/a"}, query={"overwrite": "true"}))
    assert again["status"] == "inactive" and again["version"] == "0.0.2"
    moved = ok(api.put(f"{RULES}/r", {"trigger": f"/{api.ns}/t2"}, query={"overwrite": "true"}))
    assert moved["trigger"] == {"path": api.ns, "name": "t2"} and moved["action"] == {"path": api.ns, "name": "a"}
    assert moved["status"] == "inactive"
    assert "rules" not in ok(api.get(f"{NS}/triggers/t"))
    assert f"{api.ns}/r" in ok(api.get(f"{NS}/triggers/t2"))["rules"]


@pytest.mark.parametrize(("body", "message"), [
    ({"trigger": "/_/none", "action": "/_/a"}, "trigger /{ns}/none does not exist"),
    ({"trigger": "/_/t", "action": "/_/none"}, "action /{ns}/none does not exist"),
    ({"trigger": "/_/a", "action": "/_/a"}, "trigger /{ns}/a does not exist"),  # not a trigger
    ({"trigger": "/_/t", "action": "/_/t"}, "action /{ns}/t does not exist"),  # not an action
    ({"trigger": "/_/t"}, NEEDS_BOTH),
    ({"action": "/_/a"}, NEEDS_BOTH),
    ({}, NEEDS_BOTH),
    ({"trigger": "/_/t", "action": "/"}, NEEDS_BOTH),
    ({"trigger": "/_/t", "action": "/_/a/b/c"}, NEEDS_BOTH),
    ({"trigger": 5, "action": "/_/a"}, "The request content was malformed:\ntrigger: "),
])
def test_bad_rules_are_400_and_create_nothing(api: Api, body: dict[str, object], message: str) -> None:
    api.action("a")
    api.trigger("t")
    found = error(api.put(f"{RULES}/r2", body), 400)
    assert found.startswith(message.format(ns=api.ns))
    if not message.endswith(": "):
        assert found == message.format(ns=api.ns)
    error(api.get(f"{RULES}/r2"), 404)  # nothing half-created
    assert "rules" not in ok(api.get(f"{NS}/triggers/t"))


def test_a_trigger_deleted_before_its_rule(api: Api) -> None:
    make(api)
    ok(api.delete(f"{NS}/triggers/t"))
    assert ok(api.get(f"{RULES}/r"))["status"] == "inactive"
    enable = api.post(f"{RULES}/r", {"status": "active"})
    assert error(enable, 404) == "Only rules with existing triggers can be activated"
    deleted = ok(api.delete(f"{RULES}/r"))
    assert deleted["status"] == "inactive"
    error(api.get(f"{RULES}/r"), 404)


def test_a_rule_to_an_action_in_another_namespaces_public_package(api: Api) -> None:
    owner = api.ns
    api.package("pub", publish=True, parameters=kv(owner="yes"))
    api.package("private")
    api.action("pub/echo")
    api.action("private/echo")
    api.trigger("t")
    api.trigger("t", auth=api.other)
    private = api.put(f"{RULES}/p", {"trigger": "/_/t", "action": f"/{owner}/private/echo"}, auth=api.other)
    assert error(private, 403) == f"The supplied authentication is not authorized to access '{owner}/private'."
    foreign_trigger = api.put(f"{RULES}/ft", {"trigger": f"/{owner}/t", "action": f"/{owner}/pub/echo"},
                              auth=api.other)
    assert error(foreign_trigger, 403) == f"The supplied authentication is not authorized to access '{owner}/t'."
    rule = api.rule("r", "/_/t", f"/{owner}/pub/echo", auth=api.other)
    assert rule["action"] == {"path": f"{owner}/pub", "name": "echo"} and rule["status"] == "active"

    trigger_id = ok(api.post(f"{NS}/triggers/t", {"n": 1}, auth=api.other), 202)["activationId"]
    record = ok(api.get(f"{NS}/activations/{trigger_id}", auth=api.other))
    [line] = [json.loads(x) for x in record["logs"]]
    assert line["success"] is True
    action_record = ok(api.get(f"{NS}/activations/{line['activationId']}", auth=api.other))
    assert action_record["namespace"] == api.other_ns  # run as the one who fired
    assert action_record["response"]["result"]["owner"] == "yes" and action_record["response"]["result"]["n"] == 1


def test_rules_of_another_namespace_are_403(api: Api) -> None:
    make(api)
    theirs = f"/api/v1/namespaces/{api.ns}/rules/r"
    denied = f"The supplied authentication is not authorized to access '{api.ns}/r'."
    assert error(api.get(theirs, auth=api.other), 403) == denied
    assert error(api.post(theirs, {"status": "inactive"}, auth=api.other), 403) == denied
    assert error(api.delete(theirs, auth=api.other), 403) == denied
    assert ok(api.get(f"{RULES}/r"))["status"] == "active"


def test_annotations_are_kept_unless_given(api: Api) -> None:
    make(api)
    given = ok(api.put(f"{RULES}/r", {"annotations": kv(a=1)}, query={"overwrite": "true"}))
    assert as_dict(given["annotations"]) == {"a": 1}
    kept = ok(api.put(f"{RULES}/r", {"publish": True}, query={"overwrite": "true"}))
    assert as_dict(kept["annotations"]) == {"a": 1} and kept["publish"] is True


def test_annotations_can_be_emptied(api: Api) -> None:
    make(api)
    ok(api.put(f"{RULES}/r", {"annotations": kv(a=1)}, query={"overwrite": "true"}))
    emptied = ok(api.put(f"{RULES}/r", {"annotations": []}, query={"overwrite": "true"}))
    assert emptied["annotations"] == []


def test_bodies_over_the_payload_limit_are_413(make_api: MakeApi) -> None:
    api = make_api(limits={"payload_bytes": 50})
    body = '{"trigger": "/_/t", "action": "/_/a", "annotations": []}'
    assert len(body) > 50
    assert error(api.put(f"{RULES}/r", data=body), 413) == f"Request larger than allowed: {len(body)} > 50 bytes."
    status = '{"status": "inactive", "padding": "' + "x" * 40 + '"}'
    assert error(api.post(f"{RULES}/r", data=status), 413) == \
        f"Request larger than allowed: {len(status)} > 50 bytes."
