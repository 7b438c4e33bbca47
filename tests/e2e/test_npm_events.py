"""Packages, triggers, rules and feeds through the npm ``openwhisk`` client, installed from npm and unchanged."""

from __future__ import annotations

import json
import subprocess

import pytest

from bench.stack import SQUALL
from tests.e2e.npm import run_npm_script
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


def test_npm_client_packages_triggers_rules_and_feeds(stack: Stack, unique: str) -> None:
    subprocess.run([SQUALL, "admin", "catalog", "install"], env=stack.env, check=True, capture_output=True,
                   timeout=120)
    seen = run_npm_script("npm_events.js", stack, unique, timeout_s=180)

    assert seen["pkg"]["name"] == unique and seen["pkg"]["publish"] is True
    assert seen["binding"]["binding"] == {"namespace": "whisk.system", "name": "utils"}
    assert [a["name"] for a in seen["pkgGet"]["actions"]] == ["echo"]
    assert unique in seen["pkgList"] and f"{unique}-utils" in seen["pkgList"]
    assert "utils" in seen["publicList"] and "alarms" in seen["publicList"]
    assert seen["viaBinding"] == {"lines": ["a", "b"], "length": 2}
    assert seen["notEmpty"]["statusCode"] == 409
    assert '"Package not empty (contains 1 entities). Set force param or delete package contents."' in \
        seen["notEmpty"]["message"]

    assert seen["rule"]["status"] == "active"
    assert seen["ruleToPublic"]["action"] == {"path": "whisk.system/utils", "name": "echo"}
    assert len(seen["fired"]["activationId"]) == 32
    lines = [json.loads(line) for line in seen["triggerRecord"]["logs"]]
    assert sorted(line["rule"] for line in lines) == [f"guest/{unique}-r", f"guest/{unique}-r2"]
    assert all(line["success"] for line in lines)
    assert seen["triggerRecord"]["response"]["result"] == {"hello": "world"}
    assert seen["disabled"] == "inactive" and seen["enabled"] == "active"
    assert seen["badRule"]["statusCode"] == 400
    assert f'"trigger /guest/{unique}-none does not exist"' in seen["badRule"]["message"]

    assert "cron pattern 'not a cron' is not valid" in seen["badFeed"]["message"]
    assert seen["feedCreated"] is True
    assert seen["feedRead"]["config"]["cron"] == "*/2 * * * * *"
    assert seen["feedRead"]["config"]["trigger_payload"] == {"from": "alarm"}
    assert seen["feedRead"]["status"]["active"] is True
    assert seen["feedDeleted"] is True
    assert f"there is no alarm for trigger /guest/{unique}-alarm" in seen["feedReadAfter"]["message"]

    assert seen["orphan"] == "inactive"
    assert seen["ruleDeleted"]["status"] == "inactive"
    assert seen["pkgDeleted"]["name"] == unique
