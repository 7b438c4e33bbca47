"""Small helpers for the REST-level integration tests."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import httpx

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
