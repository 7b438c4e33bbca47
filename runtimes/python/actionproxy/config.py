"""Proxy settings, read once from the environment in ``main()`` and passed down."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ProxyConfig:
    host: str = "0.0.0.0"
    port: int = 8080
    # A Unix socket path: when set, the proxy listens there instead of on host:port (the process factory's
    # containers, so that only the invoker reaches them); images keep TCP.
    socket: str = ""
    allow_reinit: bool = False  # OpenWhisk's reference proxy honours PROXY_ALLOW_REINIT=1
    work_dir: str = tempfile.gettempdir()  # where each /init's code is unpacked
    # "python" runs Python code; "exec" runs an executable per activation, as OpenWhisk's dockerskeleton;
    # "loop" keeps one executable running and talks to it (OpenWhisk's action loop: actionloop.py).
    runner: str = "python"
    exec_path: str = "/action/exec"  # the "exec" runner's executable when /init brings no code
    # The "loop" runner's kind: what builds bin/exec from the source, or what runs the source as it is, and
    # whether the executable says {"ok": true} on fd 3 once it started (OpenWhisk's OW_COMPILER and
    # OW_WAIT_FOR_ACK, which are read too, so an OpenWhisk action-loop image's settings carry over).
    compiler: str = ""
    launcher: str = ""
    wait_for_ack: bool = False
    # Process containers have no network but loopback: connections to 127.0.0.1:api_relay_port are relayed to
    # the invoker's Unix socket api_relay, which leads to the API host (workers/factories/relay.py).
    api_relay: str = ""
    api_relay_port: int = 0

    def __post_init__(self) -> None:
        if self.runner not in ("python", "exec", "loop"):
            raise ValueError(f"PROXY_RUNNER must be 'python', 'exec' or 'loop', not {self.runner!r}")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProxyConfig:
        return cls(
            host=env.get("PROXY_HOST", cls.host),
            port=int(env.get("PROXY_PORT", cls.port)),
            socket=env.get("PROXY_SOCKET") or cls.socket,
            allow_reinit=env.get("PROXY_ALLOW_REINIT", "").lower() in ("1", "true", "yes"),
            work_dir=env.get("PROXY_WORK_DIR") or cls.work_dir,
            runner=env.get("PROXY_RUNNER") or cls.runner,
            exec_path=env.get("PROXY_EXEC") or cls.exec_path,
            compiler=env.get("PROXY_COMPILER") or env.get("OW_COMPILER") or cls.compiler,
            launcher=env.get("PROXY_LAUNCHER") or cls.launcher,
            wait_for_ack=(env.get("PROXY_WAIT_FOR_ACK") or env.get("OW_WAIT_FOR_ACK") or "").lower()
            in ("1", "true", "yes"),
            api_relay=env.get("PROXY_API_RELAY") or cls.api_relay,
            api_relay_port=int(env.get("PROXY_API_RELAY_PORT") or cls.api_relay_port),
        )
