"""The invoker's proxy client and the Python action proxy over a Unix socket (the process factory's transport)."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from workers.proxy_client import ProxyClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "runtimes" / "python"))
from actionproxy.config import ProxyConfig
from actionproxy.runner import Reply
from actionproxy.server import UnixProxyServer


class EchoRunner:
    """Answers a /run with its body; with a log limit, also with one log line saying the limit."""

    def init(self, raw: bytes) -> Reply:
        return Reply(200, b'{"ok":true}')

    def run(self, raw: bytes, log_limit: int | None = None) -> Reply:
        if log_limit is None:
            return Reply(200, raw)
        line = ["2026-12-07T10:00:00.000000001Z", "stderr", f"limit {log_limit}"]
        return Reply(200, raw, (json.dumps({"chunks": [line], "truncated": False, "complete": True}).encode(),))

    def close(self) -> None:
        pass


@pytest.fixture(params=["short", "long"])
def socket_path(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A socket path, also one longer than the 108 bytes a socket address may hold."""
    folder = tmp_path / ("x" * 120 if request.param == "long" else "s")
    folder.mkdir()
    path = str(folder / "proxy.sock")
    server = UnixProxyServer(path, EchoRunner())  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_init_and_runs_over_one_unix_connection(socket_path: str) -> None:
    assert (Path(socket_path).stat().st_mode & 0o777) == 0o600
    client = ProxyClient(socket_path, 0)
    assert client.init({"value": {}}, timeout_s=5).body == {"ok": True}
    for n in range(3):
        assert client.run({"value": {"n": n}}, timeout_s=5).body == {"value": {"n": n}}
    client.close()


def test_the_log_lines_come_with_the_answer_only_when_asked_for(socket_path: str) -> None:
    client = ProxyClient(socket_path, 0)
    plain = client.run({"value": {"n": 1}}, timeout_s=5)
    asked = client.run({"value": {"n": 2}}, timeout_s=5, log_limit=4096)
    client.close()
    assert (plain.body, plain.logs) == ({"value": {"n": 1}}, None)
    assert asked.body == {"value": {"n": 2}}
    assert asked.raw == b'{"value":{"n":2}}'  # the result alone: its size is what the result limit measures
    assert asked.logs is not None
    assert [(e.time, e.stream, e.text) for e in asked.logs.lines] == [
        ("2026-12-07T10:00:00.000000001Z", "stderr", "limit 4096")]
    assert (asked.logs.truncated, asked.logs.complete) == (False, True)


def test_the_proxy_listens_on_a_unix_socket_only_when_told() -> None:
    assert ProxyConfig.from_env({}).socket == ""
    assert ProxyConfig.from_env({"PROXY_SOCKET": "/x/p.sock"}).socket == "/x/p.sock"


def test_a_missing_socket_is_a_refused_connection(tmp_path: Path) -> None:
    client = ProxyClient(str(tmp_path / "none.sock"), 0)
    assert client.wait_ready(0.2) is False
