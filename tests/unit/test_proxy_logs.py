"""Squall's action proxies hand an activation's log lines back with its /run answer, and still pass every line on
to their own stdout and stderr, which the engine reads (``runtimes/python/actionproxy/capture.py``,
``runtimes/nodejs/actionproxy/capture.js``). Each proxy runs here as its own process, as in a container, with its
streams going to files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from workers import proxy_client
from workers.logs import SENTINEL
from workers.proxy_client import ProxyClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "runtimes" / "python"))
from actionproxy import capture

pytestmark = pytest.mark.unit

RUNTIMES = Path(__file__).resolve().parents[2] / "runtimes"
ACTIONS = {
    "python": """\
import sys
print("loading")
def main(args):
    n = args.get("n")
    write = sys.stdout.write
    for _ in range(args.get("flood", 0)):
        write("abcdefghi\\n")
    print("out", n)
    print("err", n, file=sys.stderr)
    sys.stdout.write("no newline " + str(n))
    return {"n": n}
""",
    "nodejs": """\
console.log("loading");
function main(args) {
  let flood = "";
  for (let i = 0; i < (args.flood || 0); i++) {
    flood += "abcdefghi\\n";
    if (flood.length > 65536) { process.stdout.write(flood); flood = ""; }
  }
  process.stdout.write(flood);
  console.log("out", args.n);
  console.error("err", args.n);
  process.stdout.write("no newline " + args.n);
  return { n: args.n };
}
""",
}


def _command(runtime: str) -> list[str]:
    if runtime == "python":
        return [sys.executable, "-m", "actionproxy"]
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node on this machine (tests/services.sh installs it)")
    return [node, str(RUNTIMES / "nodejs" / "actionproxy" / "proxy.js")]


@dataclass
class Proxy:
    client: ProxyClient
    folder: Path
    pid: int

    def peak_rss_kb(self) -> int:
        status = Path(f"/proc/{self.pid}/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0])


@pytest.fixture(params=["python", "nodejs"])
def proxy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Proxy]:
    socket_path = str(tmp_path / "proxy.sock")
    env = {**os.environ, "PYTHONPATH": str(RUNTIMES / "python"), "PROXY_SOCKET": socket_path,
           "PROXY_WORK_DIR": str(tmp_path), "PROXY_RUNNER": "python"}
    with open(tmp_path / "stdout", "wb") as out, open(tmp_path / "stderr", "wb") as err:
        process = subprocess.Popen(_command(request.param), env=env, stdout=out, stderr=err, cwd=tmp_path)
    client = ProxyClient(socket_path, 0)
    try:
        init = client.init({"value": {"code": ACTIONS[request.param], "main": "main"}}, timeout_s=20)
        assert (init.status, init.body) == (200, {"ok": True})
        yield Proxy(client, tmp_path, process.pid)
    finally:
        client.close()
        process.terminate()
        process.wait(10)


def test_the_lines_come_with_the_answer_and_still_reach_the_engine(proxy):
    client, folder = proxy.client, proxy.folder
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
    assert stdout.startswith("loading\nout 1\nno newline 1")  # passed on
    assert "out 2\nno newline 2" in stdout and "err 2\n" in stderr  # also when no lines were asked for
    assert (stdout.count(SENTINEL), stderr.count(SENTINEL)) == (3, 3)
    assert "FLUSHED" not in stdout + stderr  # the Node.js launcher's markers stay in the proxy


def test_the_proxy_keeps_no_more_than_the_limit(proxy):
    client = proxy.client
    answer = client.run({"value": {"n": 4}}, timeout_s=10, log_limit=len("loading") + 1)
    assert answer.logs is not None
    assert answer.logs.truncated is True
    # One whole line fits; which one comes first across the two streams is the order the proxy read them in.
    assert [entry.text for entry in answer.logs.lines] in (["loading"], ["err 4"])


def test_a_million_short_lines_cost_the_proxy_about_their_bytes(proxy):
    """Kept as the chunks each read brought, not as an object per line: 9 MB of 10-byte lines once took a
    Python proxy to 500 MB, more than an action's container has."""
    answer = proxy.client.run({"value": {"n": 5, "flood": 1_000_000}}, timeout_s=60, log_limit=10 * 1024 * 1024)
    assert answer.body == {"n": 5} and answer.logs is not None
    assert answer.logs.truncated is False
    texts = [entry.text for entry in answer.logs.lines if entry.stream == "stdout"]
    assert texts[0] == "loading" and texts[-2:] == ["out 5", "no newline 5"]
    assert texts.count("abcdefghi") == 1_000_000
    assert proxy.peak_rss_kb() < 120_000


def test_the_invoker_and_the_proxies_name_the_same_headers():
    assert (proxy_client.LOGS_HEADER, proxy_client.LOGS_LENGTH_HEADER) == (capture.LOGS_HEADER,
                                                                          capture.LOGS_LENGTH_HEADER)
    script = (RUNTIMES / "nodejs" / "actionproxy" / "capture.js").read_text()
    assert f"LOGS_HEADER = '{capture.LOGS_HEADER.lower()}'" in script
    assert f"LOGS_LENGTH_HEADER = '{capture.LOGS_LENGTH_HEADER}'" in script


def _pumping(output: capture.OutputCapture, stream_index: int = 0) -> tuple[int, int, threading.Thread]:
    """A pump of ``output`` on pipes of the test's own (``install`` would take the test process's stdout)."""
    read_end, write_end = os.pipe()
    real_read, real_write = os.pipe()
    pump = threading.Thread(target=output._pump, args=(read_end, real_write, output._streams[stream_index]),
                            daemon=True)
    pump.start()
    return write_end, real_read, pump


def test_a_pump_that_runs_out_of_memory_keeps_nothing_more_and_passes_everything_on(monkeypatch):
    output = capture.OutputCapture()
    failing = iter([True, False, False])
    real_read_method = output._read

    def read(stream, pending, data):
        if next(failing, False):
            raise MemoryError
        return real_read_method(stream, pending, data)

    monkeypatch.setattr(output, "_read", read)
    monkeypatch.setattr(capture, "END_WAIT_S", 0.1)
    write_end, real_read, pump = _pumping(output)
    os.write(write_end, b"lost\n")
    time.sleep(0.1)
    os.write(write_end, b"kept? no: over\n" + capture._SENTINEL + b"\n")
    os.close(write_end)
    pump.join(5)
    assert os.read(real_read, 1 << 16) == b"lost\nkept? no: over\n" + capture._SENTINEL + b"\n"
    assert json.loads(b"".join(output.activation_end(1 << 20) or ())) == {
        "chunks": [], "truncated": True, "complete": False}  # stderr never ended here; stdout kept nothing


def test_lines_around_a_sentinel_in_one_read_go_to_the_activations_they_belong_to():
    output = capture.OutputCapture()
    write_end, _, pump = _pumping(output)
    os.write(write_end, b"one\ntwo" + capture._SENTINEL + b"\nthree\n")
    os.close(write_end)
    pump.join(5)
    stdout = output._streams[0]
    (first, over), = stdout.ended
    assert ([lines for _, _, lines in first], over) == ([b"one\ntwo"], False)
    assert [lines for _, _, lines in stdout.chunks] == [b"three"]
