"""The npm ``openwhisk`` client, installed from npm and unchanged, against the real stack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

CLIENT_DIR = Path(os.environ.get("SQUALL_NPM_CLIENT_DIR", "/opt/squall-deps/npm-client"))
SCRIPT = Path(__file__).with_name("npm_client.js")


def test_npm_client_creates_invokes_lists_reads_and_deletes(stack: Stack, unique: str) -> None:
    node = shutil.which("node")
    if node is None or not (CLIENT_DIR / "node_modules" / "openwhisk").is_dir():
        message = "node or the npm openwhisk client is missing; run tests/services.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    env = {**os.environ, "NODE_PATH": str(CLIENT_DIR / "node_modules")}
    done = subprocess.run([node, str(SCRIPT), stack.url, ":".join(stack.guest), unique], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
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
