"""Packages, triggers and rules as documents, and the parameter precedence of bindings."""

from __future__ import annotations

import json

import pytest

from app.core.entities import Action, Exec
from app.core.errors import Invalid
from app.core.invocation import ResolvedAction
from app.core.limits import ActionLimits
from app.core.names import EntityPath
from app.core.packages import Binding, Package, check_package_name
from app.core.rules import Rule, RuleStatus
from app.core.triggers import RuleLink, Trigger, rule_log_line

pytestmark = pytest.mark.unit


def kv(**values: object) -> list[dict[str, object]]:
    return [{"key": k, "value": v} for k, v in values.items()]


def test_precedence_package_binding_action_payload() -> None:
    action = Action(EntityPath("ns", "a", "pkg"), Exec("python:3", "x"), ActionLimits(1, 1, 1, 1),
                    parameters=kv(a="action", x="action"))
    resolved = ResolvedAction(action, {"p": "package", "b": "binding", "a": "binding", "x": "binding"})
    assert resolved.parameters({"x": "payload"}) == {"p": "package", "b": "binding", "a": "action",
                                                     "x": "payload"}


def test_binding_documents_and_reserved_name() -> None:
    package = Package("ns", "b", Binding("whisk.system", "utils"), annotations=kv(binding="forged", d=1))
    fixed = package.with_binding_annotation()
    assert {"key": "binding", "value": {"namespace": "whisk.system", "name": "utils"}} in fixed.annotations
    assert {"key": "binding", "value": "forged"} not in fixed.annotations
    assert Package.from_doc(fixed.to_doc()) == fixed
    assert fixed.to_summary()["binding"] == {"namespace": "whisk.system", "name": "utils"}
    assert Package("ns", "p").to_summary()["binding"] is False
    assert Package("ns", "p").to_api()["binding"] == {}
    assert Binding.from_doc({}) is None
    with pytest.raises(Invalid, match="Package name 'default' is reserved."):
        check_package_name("default")


def test_trigger_keeps_rule_links_and_knows_the_active_ones() -> None:
    trigger = Trigger("ns", "t").with_rule("ns/r1", RuleLink(EntityPath("ns", "a"), RuleStatus.ACTIVE))
    trigger = trigger.with_rule("ns/r2", RuleLink(EntityPath("other", "a", "pkg"), RuleStatus.INACTIVE))
    assert [name for name, _ in trigger.active_rules()] == ["ns/r1"]
    assert Trigger.from_doc(trigger.to_doc()).rules == trigger.rules
    assert trigger.to_api()["rules"]["ns/r2"] == {"action": {"path": "other/pkg", "name": "a"},
                                                  "status": "inactive"}
    assert trigger.with_rule("ns/r1", None).rules.keys() == {"ns/r2"}


def test_rule_status_parsing_and_documents() -> None:
    assert RuleStatus.parse("inactive") is RuleStatus.INACTIVE
    with pytest.raises(Invalid, match=r"^'' is not a recognized rule state"):
        RuleStatus.parse("")
    rule = Rule("ns", "r", EntityPath("ns", "t"), EntityPath("other", "a", "pkg"))
    assert Rule.from_doc(rule.to_doc()) == rule
    assert "status" not in rule.to_api() and rule.to_api(RuleStatus.ACTIVE)["status"] == "active"


def test_rule_log_lines_are_compact_json() -> None:
    ok = rule_log_line("ns/r", EntityPath("ns", "a"), activation_id="abc")
    assert ok == '{"rule":"ns/r","action":"ns/a","statusCode":0,"success":true,"activationId":"abc"}'
    failed = json.loads(rule_log_line("ns/r", EntityPath("ns", "a"), status_code=1, error="gone"))
    assert failed == {"rule": "ns/r", "action": "ns/a", "statusCode": 1, "success": False, "error": "gone"}
