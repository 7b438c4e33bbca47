"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

POUCHDB_DEFAULT_BIN = "/opt/squall-deps/pouchdb/node_modules/.bin/pouchdb-server"
POUCHDB_READY_DEADLINE_S = 30.0


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pouchdb_bin() -> str | None:
    configured = os.environ.get("SQUALL_POUCHDB_BIN")
    if configured:
        return configured
    if os.access(POUCHDB_DEFAULT_BIN, os.X_OK):
        return POUCHDB_DEFAULT_BIN
    return shutil.which("pouchdb-server")


def _wait_for_couch(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``GET /`` until the server answers, it exits, or the deadline passes."""
    deadline = time.monotonic() + POUCHDB_READY_DEADLINE_S
    with httpx.Client(timeout=2.0, headers={"Accept": "application/json"}) as client:
        while True:
            try:
                if client.get(url + "/").is_success:
                    return
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                state = "exited" if process.returncode is not None else "is not answering"
                raise RuntimeError(f"pouchdb-server {state}; its log:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)


@pytest.fixture(scope="session")
def couchdb_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a CouchDB-API server: ``$SQUALL_TEST_COUCHDB_URL``, else a fresh in-memory pouchdb-server.

    No server available: a failure in CI, a skip elsewhere.
    """
    external = os.environ.get("SQUALL_TEST_COUCHDB_URL")
    if external:
        yield external.rstrip("/")
        return
    binary = _pouchdb_bin()
    if binary is None:
        message = "no CouchDB-API server: set SQUALL_TEST_COUCHDB_URL or SQUALL_POUCHDB_BIN"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    workdir = tmp_path_factory.mktemp("pouchdb")  # it writes config.json and log.txt into its cwd
    log = workdir / "stdout.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "--in-memory", "--port", str(port), "--host", "127.0.0.1"],
            cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_couch(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
