"""The npm ``openwhisk`` client, installed from npm and unchanged, against the real stack."""

from __future__ import annotations

import pytest

from tests.e2e.npm import run_npm_script
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


def test_npm_client_creates_invokes_lists_reads_and_deletes(stack: Stack, unique: str) -> None:
    seen = run_npm_script("npm_client.js", stack, unique)
    assert seen["created"]["name"] == unique
    assert seen["blocking"] == {"greeting": "Hello npm"}
    assert seen["fullStatus"] == "success"
    assert len(seen["nonBlocking"]["activationId"]) == 32
    assert unique in seen["listed"]
    assert seen["activation"]["response"]["result"] == {"greeting": "Hello later"}
    assert seen["nonBlocking"]["activationId"] in seen["activationList"]
    assert seen["logs"]["logs"][0].endswith("stdout: from npm")
    assert seen["result"]["result"] == {"greeting": "Hello full"}
    assert seen["missingError"]["statusCode"] == 404
    assert "does not exist" in seen["missingError"]["message"]
    assert seen["deleted"]["name"] == unique
