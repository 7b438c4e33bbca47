"""Running one of our scripts for the npm ``openwhisk`` client (installed from npm, unchanged) against a stack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Stack

CLIENT_DIR = Path(os.environ.get("SQUALL_NPM_CLIENT_DIR", "/opt/squall-deps/npm-client"))


def run_npm_script(script: str, stack: Stack, unique: str, timeout_s: float = 120) -> dict[str, Any]:
    """Run ``tests/e2e/<script>`` with node as ``guest``; returns the JSON object its last line prints."""
    node = shutil.which("node")
    if node is None or not (CLIENT_DIR / "node_modules" / "openwhisk").is_dir():
        message = "node or the npm openwhisk client is missing; run tests/services.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    env = {**os.environ, "NODE_PATH": str(CLIENT_DIR / "node_modules")}
    done = subprocess.run([node, str(Path(__file__).with_name(script)), stack.url, ":".join(stack.guest), unique],
                          env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
    assert done.returncode == 0, done.stderr
    seen: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return seen
