"""What ``PUT ?overwrite=true`` keeps, for rules and triggers, as OpenWhisk's ``Rules.update`` and
``Triggers.update`` do it: each field the body leaves out is the stored one, each given field replaces the stored
one wholesale. A rule's status is never set by a PUT: an update keeps the status the rule had on its trigger
(``inactive`` when its trigger no longer holds a link to it), only a create makes a rule active. A trigger's rule
links are not a PUT field and survive every update."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import NS, Api, as_dict, kv, ok

pytestmark = pytest.mark.api

RULES = f"{NS}/rules"
TRIGGERS = f"{NS}/triggers"
OVERWRITE = {"overwrite": "true"}


def fire(api: Api, trigger: str = "t") -> dict[str, dict[str, Any]] | None:
    """The trigger activation's log lines by rule, or None when the fire ran nothing (204)."""
    response = api.post(f"{TRIGGERS}/{trigger}", {})
    if response.status_code == 204:
        return None
    record = ok(api.get(f"{NS}/activations/{ok(response, 202)['activationId']}"))
    return {line["rule"]: line for line in (json.loads(x) for x in record["logs"])}


def link(api: Api, rule: str = "r", trigger: str = "t") -> dict[str, Any]:
    links: dict[str, dict[str, Any]] = ok(api.get(f"{TRIGGERS}/{trigger}")).get("rules", {})
    return links[f"{api.ns}/{rule}"]


@pytest.fixture
def rule(api: Api) -> Api:
    """Actions ``a`` and ``a2``, triggers ``t`` and ``t2``, and rule ``r`` from ``t`` to ``a`` (active)."""
    api.action("a")
    api.action("a2")
    api.trigger("t")
    api.trigger("t2")
    api.rule("r", "/_/t", "/_/a")
    return api


# --- rules -----------------------------------------------------------------------------------------------------


def test_an_inactive_rule_stays_inactive_through_updates(rule: Api) -> None:
    api = rule
    ok(api.post(f"{RULES}/r", {"status": "inactive"}))
    # the status a body carries is not a PUT field (wsk and the npm client send one): ignored
    updated = ok(api.put(f"{RULES}/r", {"trigger": "/_/t", "action": "/_/a2", "status": "active"},
                         query=OVERWRITE))
    assert updated["status"] == "inactive" and updated["action"] == {"path": api.ns, "name": "a2"}
    assert ok(api.get(f"{RULES}/r"))["status"] == "inactive"
    assert link(api) == {"action": {"path": api.ns, "name": "a2"}, "status": "inactive"}
    assert ok(api.put(f"{RULES}/r", {}, query=OVERWRITE))["status"] == "inactive"
    assert fire(api) is None  # still no active rule: 204, nothing run


def test_an_active_rule_stays_active_through_updates(rule: Api) -> None:
    api = rule
    updated = ok(api.put(f"{RULES}/r", {"action": "/_/a2", "status": "inactive"}, query=OVERWRITE))
    assert updated["status"] == "active"
    lines = fire(api)
    assert lines is not None and lines[f"{api.ns}/r"]["action"] == f"{api.ns}/a2"
    assert lines[f"{api.ns}/r"]["success"] is True


def test_moving_an_inactive_rule_to_another_trigger_keeps_it_inactive(rule: Api) -> None:
    api = rule
    ok(api.post(f"{RULES}/r", {"status": "inactive"}))
    moved = ok(api.put(f"{RULES}/r", {"trigger": "/_/t2"}, query=OVERWRITE))
    assert moved["status"] == "inactive" and moved["trigger"] == {"path": api.ns, "name": "t2"}
    assert link(api, trigger="t2")["status"] == "inactive"
    assert "rules" not in ok(api.get(f"{TRIGGERS}/t"))
    assert fire(api, "t2") is None


def test_overwrite_of_a_missing_rule_creates_it_active(rule: Api) -> None:
    api = rule
    created = ok(api.put(f"{RULES}/new", {"trigger": "/_/t", "action": "/_/a"}, query=OVERWRITE))
    assert created["status"] == "active" and created["version"] == "0.0.1"
    assert link(api, "new")["status"] == "active"


def test_a_rule_that_lost_its_link_is_inactive_after_an_update(rule: Api) -> None:
    # OpenWhisk reads the status from the rule's trigger and falls back to inactive: a trigger deleted and made
    # again holds no link, and the update does not make the rule active again.
    api = rule
    ok(api.delete(f"{TRIGGERS}/t"))
    api.trigger("t")
    assert ok(api.put(f"{RULES}/r", {}, query=OVERWRITE))["status"] == "inactive"
    assert link(api)["status"] == "inactive"
    assert fire(api) is None


def test_a_rule_whose_trigger_is_gone_moves_inactive(rule: Api) -> None:
    api = rule
    ok(api.delete(f"{TRIGGERS}/t"))
    moved = ok(api.put(f"{RULES}/r", {"trigger": "/_/t2"}, query=OVERWRITE))
    assert moved["status"] == "inactive" and link(api, trigger="t2")["status"] == "inactive"


def test_a_rule_update_keeps_what_the_body_leaves_out(rule: Api) -> None:
    api = rule
    first = ok(api.put(f"{RULES}/r", {"publish": True, "annotations": kv(note="x"), "version": "1.0.0"},
                       query=OVERWRITE))
    kept = ok(api.put(f"{RULES}/r", {}, query=OVERWRITE))
    assert kept["trigger"] == first["trigger"] == {"path": api.ns, "name": "t"}
    assert kept["action"] == first["action"] == {"path": api.ns, "name": "a"}
    assert kept["publish"] is True and as_dict(kept["annotations"]) == {"note": "x"}
    assert kept["version"] == "1.0.1" and kept["status"] == "active"


# --- triggers --------------------------------------------------------------------------------------------------


FEED = "/whisk.system/alarms/alarm"


@pytest.fixture
def trigger(api: Api) -> Api:
    """Trigger ``t`` with parameters, a feed annotation, ``publish`` and a version, and two rules: ``on`` (active)
    and ``off`` (inactive)."""
    api.action("a")
    api.trigger("t", parameters=kv(p=1), annotations=kv(feed=FEED, note="x"), publish=True, version="1.0.0")
    api.rule("on", "/_/t", "/_/a")
    api.rule("off", "/_/t", "/_/a")
    ok(api.post(f"{RULES}/off", {"status": "inactive"}))
    return api


def test_a_trigger_update_keeps_what_the_body_leaves_out(trigger: Api) -> None:
    api = trigger
    before = ok(api.get(f"{TRIGGERS}/t"))
    # rules are not a PUT field and limits have nothing to store (OpenWhisk's TriggerLimits is empty)
    updated = ok(api.put(f"{TRIGGERS}/t", {"rules": {}, "limits": {"x": 1}}, query=OVERWRITE))
    assert updated["version"] == "1.0.1"
    for key in ("parameters", "annotations", "publish", "limits", "rules"):
        assert updated[key] == before[key], key
    assert as_dict(updated["annotations"])["feed"] == FEED
    assert {name: entry["status"] for name, entry in updated["rules"].items()} == {
        f"{api.ns}/on": "active", f"{api.ns}/off": "inactive"}
    assert ok(api.get(f"{TRIGGERS}/t")) == updated
    lines = fire(api)
    assert lines is not None and lines[f"{api.ns}/on"]["success"] is True
    assert lines[f"{api.ns}/off"]["success"] is False  # still inactive
    assert ok(api.get(f"{RULES}/off"))["status"] == "inactive"


def test_given_trigger_fields_replace_the_stored_ones_wholesale(trigger: Api) -> None:
    api = trigger
    updated = ok(api.put(f"{TRIGGERS}/t", {"annotations": kv(other="y"), "parameters": [], "publish": False},
                         query=OVERWRITE))
    # annotations are replaced, not merged: the feed annotation goes too, as in OpenWhisk (actions merge theirs)
    assert updated["annotations"] == kv(other="y")
    assert updated["parameters"] == [] and updated["publish"] is False
    assert set(updated["rules"]) == {f"{api.ns}/on", f"{api.ns}/off"}  # the links stay all the same


def test_the_feed_name_is_checked_on_create_only(trigger: Api) -> None:
    # OpenWhisk's validateTriggerFeed runs in create, not in update; overwrite=true on a missing trigger creates.
    api = trigger
    assert ok(api.put(f"{TRIGGERS}/t", {"annotations": kv(feed="/")}, query=OVERWRITE))["annotations"] == \
        kv(feed="/")
    missing = api.put(f"{TRIGGERS}/new", {"annotations": kv(feed="/")}, query=OVERWRITE)
    assert missing.status_code == 400 and missing.get_json()["error"] == "Feed name is not valid"
