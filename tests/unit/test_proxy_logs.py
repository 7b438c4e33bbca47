"""The Python action proxy hands an activation's log lines back with its /run answer, and still passes every byte
on to its own stdout and stderr, which the engine reads (``runtimes/python/actionproxy/capture.py``). The proxy
runs here as its own process, as in a container, with its streams going to files."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from workers import proxy_client
from workers.logs import SENTINEL
from workers.proxy_client import ProxyClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "runtimes" / "python"))
from actionproxy import capture

pytestmark = pytest.mark.unit

RUNTIME = Path(__file__).resolve().parents[2] / "runtimes" / "python"
ACTION = """\
import sys
print("loading")
def main(args):
    n = args.get("n")
    print("out", n)
    print("err", n, file=sys.stderr)
    sys.stdout.write("no newline " + str(n))
    return {"n": n}
"""


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[ProxyClient, Path]]:
    socket_path = str(tmp_path / "proxy.sock")
    env = {**os.environ, "PYTHONPATH": str(RUNTIME), "PROXY_SOCKET": socket_path,
           "PROXY_WORK_DIR": str(tmp_path), "PROXY_RUNNER": "python"}
    with open(tmp_path / "stdout", "wb") as out, open(tmp_path / "stderr", "wb") as err:
        process = subprocess.Popen([sys.executable, "-m", "actionproxy"], env=env, stdout=out, stderr=err)
    client = ProxyClient(socket_path, 0)
    try:
        init = client.init({"value": {"code": ACTION, "main": "main"}}, timeout_s=20)
        assert (init.status, init.body) == (200, {"ok": True})
        yield client, tmp_path
    finally:
        client.close()
        process.terminate()
        process.wait(10)


def test_the_lines_come_with_the_answer_and_still_reach_the_engine(proxy):
    client, folder = proxy
    first = client.run({"value": {"n": 1}}, timeout_s=10, log_limit=1 << 20)
    plain = client.run({"value": {"n": 2}}, timeout_s=10)
    third = client.run({"value": {"n": 3}}, timeout_s=10, log_limit=1 << 20)
    assert (first.body, plain.body, third.body) == ({"n": 1}, {"n": 2}, {"n": 3})
    assert plain.logs is None
    assert first.logs is not None and third.logs is not None
    assert (first.logs.complete, first.logs.truncated) == (True, False)

    def by_stream(lines, stream):
        return [entry.text for entry in lines if entry.stream == stream]

    # Output of the code's loading belongs to the first activation; a last line without a newline is a line.
    assert by_stream(first.logs.lines, "stdout") == ["loading", "out 1", "no newline 1"]
    assert by_stream(first.logs.lines, "stderr") == ["err 1"]
    assert by_stream(third.logs.lines, "stdout") == ["out 3", "no newline 3"]  # nothing of the run before
    assert by_stream(third.logs.lines, "stderr") == ["err 3"]
    times = [entry.time_ns for entry in first.logs.lines]
    assert times == sorted(times) and times[0] > 0
    stdout = (folder / "stdout").read_text()
    stderr = (folder / "stderr").read_text()
    assert stdout.startswith("loading\nout 1\nno newline 1" + SENTINEL + "\nout 2\n")  # passed on unchanged
    assert (stdout.count(SENTINEL), stderr.count(SENTINEL)) == (3, 3)
    assert "err 2\n" in stderr


def test_the_proxy_keeps_no_more_than_the_limit(proxy):
    client, _ = proxy
    answer = client.run({"value": {"n": 4}}, timeout_s=10, log_limit=len("loading") + 1)
    assert answer.logs is not None
    assert answer.logs.truncated is True
    assert [entry.text for entry in answer.logs.lines] == ["loading"]


def test_the_invoker_and_the_proxy_name_the_same_headers():
    assert (proxy_client.LOGS_HEADER, proxy_client.LOGS_LENGTH_HEADER) == (capture.LOGS_HEADER,
                                                                          capture.LOGS_LENGTH_HEADER)
