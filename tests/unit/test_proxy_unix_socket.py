"""The invoker's proxy client and the Python action proxy over a Unix socket (the process factory's transport)."""

from __future__ import annotations

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
    def init(self, raw: bytes) -> Reply:
        return Reply(200, b'{"ok":true}')

    def run(self, raw: bytes) -> Reply:
        return Reply(200, raw)

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


def test_the_proxy_listens_on_a_unix_socket_only_when_told() -> None:
    assert ProxyConfig.from_env({}).socket == ""
    assert ProxyConfig.from_env({"PROXY_SOCKET": "/x/p.sock"}).socket == "/x/p.sock"


def test_a_missing_socket_is_a_refused_connection(tmp_path: Path) -> None:
    client = ProxyClient(str(tmp_path / "none.sock"), 0)
    assert client.wait_ready(0.2) is False
