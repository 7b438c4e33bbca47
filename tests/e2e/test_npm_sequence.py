"""The npm ``openwhisk`` client, unchanged, creating, invoking, updating and deleting a sequence."""

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
SCRIPT = Path(__file__).with_name("npm_sequence.js")


def test_npm_client_sequence(stack: Stack, unique: str) -> None:
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
    components = [f"/guest/{unique}-add", f"/guest/{unique}-double", f"/guest/{unique}-add"]
    assert seen["created"]["exec"] == {"kind": "sequence", "components": components}
    assert seen["got"]["exec"]["components"] == components
    assert seen["blocking"] == {"value": 11}  # (4 + 1) * 2 + 1
    assert len(seen["fullLogs"]) == 3
    assert {"key": "kind", "value": "sequence"} in seen["fullAnnotations"]
    assert len(seen["nonBlocking"]["activationId"]) == 32
    assert seen["later"]["response"]["result"] == {"value": 23}
    assert seen["component"]["cause"] == seen["nonBlocking"]["activationId"]
    assert seen["badError"]["statusCode"] == 400
    assert seen["badError"]["message"].endswith('--> "Sequence component does not exist."')
    assert seen["updated"]["exec"]["components"] == [f"/guest/{unique}-double"]
    assert seen["afterUpdate"] == {"value": 6}
    assert seen["deleted"]["name"] == unique
