"""The npm ``openwhisk`` client, unchanged, creating, invoking, updating and deleting a sequence."""

from __future__ import annotations

import pytest

from tests.e2e.npm import run_npm_script
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


def test_npm_client_sequence(stack: Stack, unique: str) -> None:
    seen = run_npm_script("npm_sequence.js", stack, unique)
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
