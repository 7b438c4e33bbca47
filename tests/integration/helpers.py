"""Small helpers for the REST-level integration tests."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.stack import free_port, remove_containers, squall, start, stop, wait_ready

RECORD_DEADLINE_S = 30.0


def put_action(api: httpx.Client, name: str, code: str, kind: str = "python:default",
               **extra: Any) -> httpx.Response:
    body = {"exec": {"kind": kind, "code": code}, **extra}
    response = api.put(f"/api/v1/namespaces/_/actions/{name}", json=body)
    assert response.status_code == 200, response.text
    return response


def invoke(api: httpx.Client, name: str, payload: dict[str, Any] | None = None, **query: str) -> httpx.Response:
    return api.post(f"/api/v1/namespaces/_/actions/{name}", params=query, json=payload or {})


def wait_for_record(api: httpx.Client, activation_id: str) -> dict[str, Any]:
    """Poll until the invoker has stored the record (it is written after the result is handed back).

    The record is read after the listing shows it: read before, a GET may be answered from the result
    backend, which has no logs yet."""
    deadline = time.monotonic() + RECORD_DEADLINE_S
    while True:
        # Listed first, read second: a read before the record landed is answered from the result backend,
        # without logs, even if the record lands a moment later.
        stored = _stored(api, activation_id)
        response = api.get(f"/api/v1/namespaces/_/activations/{activation_id}")
        if stored and response.status_code == 200 and "logs" in response.json():
            record: dict[str, Any] = response.json()
            return record
        assert time.monotonic() < deadline, f"no record for {activation_id}: {response.text}"
        time.sleep(0.05)


def _stored(api: httpx.Client, activation_id: str) -> bool:
    listed = api.get("/api/v1/namespaces/_/activations", params={"limit": 200}).json()
    return any(a["activationId"] == activation_id for a in listed)


def processes_in(directory: Path) -> list[int]:
    """Pids of processes whose working directory is inside ``directory`` (also after it was removed)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                cwd = os.readlink(f"/proc/{entry.name}/cwd")
            except OSError:
                continue
            if cwd.startswith(str(directory)):
                found.append(int(entry.name))
    return found


class KillableStack:
    """A controller and an invoker of a test's own (their own database prefix and queue), whose invoker the test
    may kill (SIGKILL, the process group) and start again, without disturbing the other integration tests."""

    def __init__(self, env: dict[str, str], url: str, logs: Path) -> None:
        self.env, self.url, self.logs = env, url, logs
        self.invoker = self.start_invoker()

    def start_invoker(self) -> subprocess.Popen[bytes]:
        log = self.logs / f"invoker-{secrets.token_hex(2)}.log"
        process = start(self.env, log, "invoker")
        wait_ready(lambda: "ready." in log.read_text(errors="replace"), "invoker", [process], log)
        return process

    def kill_invoker(self) -> None:
        os.killpg(self.invoker.pid, signal.SIGKILL)
        self.invoker.wait()


@contextmanager
def killable_stack(couchdb_url: str, logs: Path, prefix: str, **settings: str) -> Iterator[KillableStack]:
    """Start a ``KillableStack`` (one gunicorn worker of 4 threads, an invoker of 2 threads and 1 GB) named
    ``prefix`` and a random suffix; ``settings`` are extra ``SQUALL_*`` variables without the prefix."""
    name = f"{prefix}{secrets.token_hex(4)}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SQUALL_COUCHDB_URL": couchdb_url, "SQUALL_COUCHDB_PREFIX": f"{name}_",
           "SQUALL_CONTROLLER_PORT": str(port), "SQUALL_CONTROLLER_API_HOST": url,
           "SQUALL_CONTROLLER_WORKERS": "1", "SQUALL_CONTROLLER_THREADS": "4", "SQUALL_INVOKER_NAME": name,
           "SQUALL_INVOKER_QUEUES": name, "SQUALL_INVOKER_THREADS": "2", "SQUALL_INVOKER_USER_MEMORY_MB": "1024",
           **{f"SQUALL_{key}": value for key, value in settings.items()}}
    squall(env, "admin", "seed")
    controller = start(env, logs / "controller.log", "controller")

    def up() -> bool:
        try:
            return httpx.get(url + "/ping", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    stack = None
    try:
        wait_ready(up, "controller", [controller], logs / "controller.log")
        stack = KillableStack(env, url, logs)
        yield stack
    finally:
        stop(controller)
        if stack is not None:
            stop(stack.invoker)
        remove_containers(name)
