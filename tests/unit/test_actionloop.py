"""The action loop's runner against executables of any origin: what a hostile or broken one writes on fd 3 is
checked, never trusted (``runtimes/python/actionproxy/actionloop.py``). The executables here are Python scripts
that speak the loop's protocol, as a zip's prebuilt ``exec`` would."""

from __future__ import annotations

import base64
import io
import json
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "runtimes" / "python"))
from actionproxy.actionloop import LoopRunner
from actionproxy.config import ProxyConfig

pytestmark = pytest.mark.unit

NOT_A_DICT = "The action did not return a dictionary or array."
SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"


def executable(body: str) -> str:
    """A zip whose ``exec`` acks, then answers each request line with what ``body`` writes to ``out``."""
    script = ("#!" + sys.executable + "\nimport json, os, sys\nout = os.fdopen(3, 'w')\n"
              "out.write('{\"ok\": true}\\n'); out.flush()\nfor line in sys.stdin:\n"
              "    request = json.loads(line)\n" + "".join(f"    {row}\n" for row in body.splitlines())
              + "    out.flush()\n")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("exec")
        info.external_attr = 0o755 << 16
        archive.writestr(info, script)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class Streams(io.StringIO):
    pass


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[LoopRunner]:
    made = LoopRunner(ProxyConfig(runner="loop", wait_for_ack=True, work_dir=str(tmp_path)), Streams(), Streams())
    yield made
    made.close()


def init(runner: LoopRunner, body: str) -> None:
    reply = runner.init(json.dumps({"value": {"code": executable(body), "binary": True}}).encode())
    assert (reply.status, json.loads(reply.body)) == (200, {"ok": True})


def run(runner: LoopRunner, value: object) -> tuple[int, object]:
    reply = runner.run(json.dumps({"value": value}).encode())
    return reply.status, json.loads(reply.body)


def test_a_prebuilt_executable_answers_each_request(runner: LoopRunner) -> None:
    init(runner, "out.write(json.dumps({'got': request['value']}) + '\\n')")
    assert run(runner, {"n": 1}) == (200, {"got": {"n": 1}})
    assert run(runner, [1, 2]) == (200, {"got": [1, 2]})


@pytest.mark.parametrize("written", [
    "'not json'",
    "'\"a string\"'",
    "'42'",
    "'[' * 100000 + ']' * 100000",  # nested past any parser's depth
    "'{\"a\": ' * 50000 + '1' + '}' * 50000",
], ids=["text", "string", "number", "deep-list", "deep-object"])
def test_a_result_that_is_not_an_object_or_array_is_refused_and_the_proxy_serves_on(runner: LoopRunner,
                                                                                     written: str) -> None:
    init(runner, f"out.write(({written}) if request['value'].get('bad') else '{{}}')\nout.write('\\n')")
    assert run(runner, {"bad": True}) == (502, {"error": NOT_A_DICT})
    assert run(runner, {}) == (200, {})  # the same executable answers the next request


def test_an_executable_that_exits_is_a_developer_error_with_both_sentinels(runner: LoopRunner) -> None:
    init(runner, "sys.exit(3)")
    assert run(runner, {}) == (502, {"error": "The action did not produce a valid response and exited unexpectedly."})
    out = runner._stdout.getvalue()  # type: ignore[attr-defined]
    err = runner._stderr.getvalue()  # type: ignore[attr-defined]
    assert out.count(SENTINEL) == 1 and err.count(SENTINEL) == 1


def test_a_first_line_that_is_not_the_ack_fails_init(tmp_path: Path) -> None:
    runner = LoopRunner(ProxyConfig(runner="loop", wait_for_ack=True, work_dir=str(tmp_path)), Streams(), Streams())
    script = f"#!{sys.executable}\nimport os\nos.write(3, b'[' * 100000 + b'\\n')\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("exec")
        info.external_attr = 0o755 << 16
        archive.writestr(info, script)
    code = base64.b64encode(buffer.getvalue()).decode("ascii")
    try:
        reply = runner.init(json.dumps({"value": {"code": code, "binary": True}}).encode())
        assert reply.status == 502
        assert "its first line on fd 3 was not" in json.loads(reply.body)["error"]
    finally:
        runner.close()
