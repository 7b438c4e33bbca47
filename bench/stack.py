"""A Squall stack started the way a user starts it: ``squall controller`` and ``squall invoker`` as
subprocesses, on a fresh database prefix and invoker queue, against the running RabbitMQ, Redis and Docker
and a CouchDB-API server (the configured one if it answers, else an in-memory pouchdb-server started here).

Shared by ``squall bench`` and the integration tests (``tests/integration/conftest.py``), so both run
the stack the same way.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

READY_DEADLINE_S = 60.0
POUCHDB_DEFAULT_BIN = "/opt/squall-deps/pouchdb/node_modules/.bin/pouchdb-server"
SQUALL = str(Path(sys.executable).with_name("squall"))
GUEST_AUTH = ("23bc46b1-71f6-4ed5-8c54-816aa4f8c502",
              "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP")
CONTAINER_LABEL = "squall.invoker"


class StackError(RuntimeError):
    """A process of the stack did not start; the message carries the tail of its log."""


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pouchdb_binary(configured: str | None = None) -> str | None:
    if configured:
        return configured
    if os.access(POUCHDB_DEFAULT_BIN, os.X_OK):
        return POUCHDB_DEFAULT_BIN
    return shutil.which("pouchdb-server")


def couch_answers(url: str) -> bool:
    try:
        return httpx.get(url.rstrip("/") + "/", timeout=2.0, headers={"Accept": "application/json"}).is_success
    except httpx.HTTPError:
        return False


def start_pouchdb(binary: str, workdir: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """An in-memory pouchdb-server on a free port; returns its URL and process once it answers."""
    log = workdir / "pouchdb.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:  # it writes config.json and log.txt into its cwd
        process = subprocess.Popen([binary, "--in-memory", "--port", str(port), "--host", "127.0.0.1"],
                                   cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        wait_ready(lambda: couch_answers(url), "pouchdb-server", [process], log)
    except BaseException:
        stop(process)
        raise
    return url, process


def squall(env: Mapping[str, str], *args: str) -> str:
    """Run one short ``squall`` command; its stdout, or ``StackError`` with its output."""
    done = subprocess.run([SQUALL, *args], env=dict(env), capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise StackError(f"squall {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


def start(env: Mapping[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start a long-running ``squall`` command in its own session (so it can be stopped as a group)."""
    with log.open("wb") as out:
        return subprocess.Popen([SQUALL, *args], env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(check: Callable[[], bool], what: str, processes: list[subprocess.Popen[bytes]], log: Path,
               deadline_s: float = READY_DEADLINE_S) -> None:
    """Poll ``check`` until it holds; ``StackError`` if a process exits or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            break
        if check():
            return
        time.sleep(0.1)  # polling a process coming up
    raise StackError(f"{what} did not become ready; log:\n{log.read_text(errors='replace')[-5000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL after 30 s."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:  # exited meanwhile: only reap it
        process.wait()
        return
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def stack_env(base: Mapping[str, str], couchdb_url: str, run_id: str, port: int,
              extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a stack: its own CouchDB prefix, controller port and invoker queue."""
    invoker = f"it{run_id}"
    return {
        **base,
        "SQUALL_COUCHDB_URL": couchdb_url,
        "SQUALL_COUCHDB_PREFIX": f"it{run_id}_",
        "SQUALL_CONTROLLER_PORT": str(port),
        "SQUALL_CONTROLLER_API_HOST": f"http://127.0.0.1:{port}",
        "SQUALL_INVOKER_NAME": invoker,
        "SQUALL_INVOKER_QUEUES": invoker,
        **(extra or {}),
    }


@dataclass
class RunningStack:
    """A controller and an invoker started by ``start_stack``; ``stop()`` ends both and removes containers."""

    url: str
    env: dict[str, str]
    invoker_name: str
    logs: Path
    controller: subprocess.Popen[bytes]
    invoker: subprocess.Popen[bytes]
    extra: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        for process in (self.controller, self.invoker, *self.extra):
            stop(process)
        remove_containers(self.invoker_name)


def start_stack(env: dict[str, str], logs: Path) -> RunningStack:
    """Start controller and invoker with ``env`` (see ``stack_env``; seed users first) and wait until ready."""
    port = env["SQUALL_CONTROLLER_PORT"]
    url = f"http://127.0.0.1:{port}"
    controller = start(env, logs / "controller.log", "controller")
    invoker = start(env, logs / "invoker.log", "invoker")
    running = RunningStack(url, env, env["SQUALL_INVOKER_NAME"], logs, controller, invoker)
    try:
        def controller_up() -> bool:
            try:
                return httpx.get(url + "/ping", timeout=1.0).status_code == 200
            except httpx.TransportError:
                return False

        wait_ready(controller_up, "controller", [controller, invoker], logs / "controller.log")
        invoker_log = logs / "invoker.log"
        wait_ready(lambda: "ready." in invoker_log.read_text(errors="replace"), "invoker",
                   [controller, invoker], invoker_log)
    except BaseException:
        running.stop()
        raise
    return running


def remove_containers(invoker_name: str) -> None:
    """Remove the action containers an invoker of this name left (it removes its own on a clean stop)."""
    import docker

    client = docker.from_env()
    try:
        for container in client.containers.list(all=True, filters={"label": f"{CONTAINER_LABEL}={invoker_name}"}):
            container.remove(force=True)
    finally:
        client.close()


def new_run_id() -> str:
    return secrets.token_hex(4)
