"""The Python action proxy's launcher: what an activation finds in its environment (``__OW_*``)."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "runtimes" / "python"))
from actionproxy.launcher import serve


@pytest.fixture(autouse=True)
def clean_environment() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def run_all(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each request through ``serve``; each result is the ``__OW_*`` variables the action saw."""
    def entry(_value: Any) -> dict[str, str]:
        return {name: value for name, value in os.environ.items() if name.startswith("__OW_")}

    lines = io.BytesIO(b"".join(json.dumps(r).encode() + b"\n" for r in requests))
    results = io.BytesIO()
    serve(entry, lines, results)
    return [json.loads(line[line.index(b"{"):]) for line in results.getvalue().splitlines()]


def test_a_key_of_an_earlier_activation_is_gone_from_the_next_one() -> None:
    first = {"value": {}, "api_key": "uuid-b:key-of-b", "namespace": "b", "activation_id": "1", "deadline": 1}
    second = {"value": {}, "namespace": "a", "activation_id": "2", "deadline": 2}
    seen = run_all([first, second])
    assert seen[0]["__OW_API_KEY"] == "uuid-b:key-of-b"
    assert "__OW_API_KEY" not in seen[1]
    assert seen[1] == {"__OW_NAMESPACE": "a", "__OW_ACTIVATION_ID": "2", "__OW_DEADLINE": "2"}


def test_each_activation_gets_its_own_values() -> None:
    seen = run_all([{"value": {}, "api_key": "k1", "namespace": "n1"}, {"value": {}, "api_key": "k2"}])
    assert seen[1] == {"__OW_API_KEY": "k2"}
