"""Following one activation across processes by its transaction id (issue 19, item 6): a stack started with
``SQUALL_LOG_FORMAT=json`` (and one with ``text``) as an operator starts it; invokes, a trigger fire and a
sequence, each with a caller-given ``X-Request-ID``; then the controller's and the invoker's log files are read
the way an operator would (grep for the id): one request line there, one activation line here, both carrying the
id and the activation id, and in json mode every line of both files is one JSON object."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.stack import GUEST_AUTH, RunningStack, free_port, new_run_id, squall, stack_env, start_stack
from tests.integration.helpers import put_action

pytestmark = pytest.mark.integration

LINE_DEADLINE_S = 30.0
REQUEST_LOGGER = "app.controller.access_log"
ACTIVATION_LOGGER = "workers.activation_log"
COMPOSITION_LOGGER = "app.core.services.compositions"
CODE = "def main(args):\n    print('secret-looking output')\n    return {'echo': args.get('n')}\n"


def stack(log_format: str, couchdb_url: str, logs: Path) -> RunningStack:
    env = stack_env(os.environ, couchdb_url, new_run_id(), free_port(), {
        "SQUALL_LOG_FORMAT": log_format,
        "SQUALL_INVOKER_THREADS": "2",
        "SQUALL_INVOKER_USER_MEMORY_MB": "1024",
        "SQUALL_CONTROLLER_WORKERS": "1",
    })
    squall(env, "admin", "seed")
    return start_stack(env, logs)


@pytest.fixture
def json_stack(couchdb_url: str, tmp_path: Path) -> Iterator[RunningStack]:
    running = stack("json", couchdb_url, tmp_path)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def text_stack(couchdb_url: str, tmp_path: Path) -> Iterator[RunningStack]:
    running = stack("text", couchdb_url, tmp_path)
    try:
        yield running
    finally:
        running.stop()


def tid() -> str:
    return f"it-{secrets.token_hex(8)}"


def grep(path: Path, text: str) -> list[str]:
    return [line for line in path.read_text(errors="replace").splitlines() if text in line]


def objects(path: Path, text: str, logger: str) -> list[dict[str, Any]]:
    return [obj for obj in map(json.loads, grep(path, text)) if obj["logger"] == logger]


def wait_for_lines(path: Path, text: str, count: int, logger: str) -> list[dict[str, Any]]:
    """The activation lines are written after the record is stored, which may be after the caller's answer."""
    deadline = time.monotonic() + LINE_DEADLINE_S
    while len(found := objects(path, text, logger)) < count:
        assert time.monotonic() < deadline, f"{count} lines with {text} awaited in {path}:\n" \
                                            f"{path.read_text(errors='replace')[-3000:]}"
        time.sleep(0.1)  # polling a log file another process writes
    return found


def test_one_activation_is_followed_from_the_controller_to_the_invoker_by_its_tid(json_stack: RunningStack) -> None:
    controller_log, invoker_log = json_stack.logs / "controller.log", json_stack.logs / "invoker.log"
    blocking, non_blocking, fired, chained = tid(), tid(), tid(), tid()
    with httpx.Client(base_url=json_stack.url, auth=GUEST_AUTH, timeout=90.0) as api:
        put_action(api, "hello", CODE, limits={"memory": 128})
        assert api.put("/api/v1/namespaces/_/actions/chain", json={"exec": {
            "kind": "sequence", "components": ["/guest/hello", "/guest/hello"]}}).status_code == 200
        assert api.put("/api/v1/namespaces/_/triggers/tick", json={}).status_code == 200
        assert api.put("/api/v1/namespaces/_/rules/tick-hello",
                       json={"trigger": "/_/tick", "action": "/_/hello"}).status_code == 200

        answer = invoke_as(api, blocking, "hello", blocking="true")
        assert answer.status_code == 200, answer.text
        blocking_id = answer.json()["activationId"]
        answer = invoke_as(api, non_blocking, "hello")
        assert answer.status_code == 202, answer.text
        non_blocking_id = answer.json()["activationId"]
        answer = api.post("/api/v1/namespaces/_/triggers/tick", json={"n": 1}, headers={"X-Request-ID": fired})
        assert answer.status_code == 202, answer.text
        trigger_id = answer.json()["activationId"]
        answer = invoke_as(api, chained, "chain", blocking="true")
        assert answer.status_code == 200, answer.text
        sequence_id = answer.json()["activationId"]

        # One request line and one activation line for each invoke, carrying the tid and the activation id.
        for request_tid, activation_id, status in ((blocking, blocking_id, 200), (non_blocking, non_blocking_id, 202)):
            [request] = objects(controller_log, request_tid, REQUEST_LOGGER)
            assert (request["tid"], request["activation_id"], request["status"], request["method"]) == \
                (request_tid, activation_id, status, "POST")
            assert request["path"] == "/api/v1/namespaces/_/actions/hello" and request["namespace"] == "guest"
            [ran] = wait_for_lines(invoker_log, request_tid, 1, ACTIVATION_LOGGER)
            assert (ran["tid"], ran["activation_id"], ran["action"], ran["status"], ran["namespace"]) == \
                (request_tid, activation_id, "guest/hello", "success", "guest")
            assert ran["start"] in ("cold", "prewarm", "warm") and ran["kind"].startswith("python")
            assert isinstance(ran["duration_ms"], int) and isinstance(ran["wait_ms"], int)
        # The rule's activation, started by the fire, carries the fire's tid (the trigger's own record is the
        # controller's, named on the request line).
        [request] = objects(controller_log, fired, REQUEST_LOGGER)
        assert request["activation_id"] == trigger_id and request["status"] == 202
        [ran] = wait_for_lines(invoker_log, fired, 1, ACTIVATION_LOGGER)
        assert ran["action"] == "guest/hello" and ran["activation_id"] != trigger_id
        # Both components of the sequence carry the request's tid and the sequence as their cause; the sequence's
        # own record, written by the invoker that ran the last component's step, has its line with the tid too.
        components = wait_for_lines(invoker_log, chained, 2, ACTIVATION_LOGGER)
        assert {c["cause"] for c in components} == {sequence_id}
        assert len({c["activation_id"] for c in components}) == 2
        [sequence] = wait_for_lines(invoker_log, chained, 1, COMPOSITION_LOGGER)
        assert (sequence["activation_id"], sequence["action"], sequence["kind"], sequence["status"]) == \
            (sequence_id, "guest/chain", "sequence", "success")

    json_stack.stop()  # its last lines too (workers exiting, the invoker's shutdown) must be JSON
    for path in (controller_log, invoker_log):
        lines = path.read_text(errors="replace").splitlines()
        assert lines, path
        for line in lines:
            obj = json.loads(line)  # every line is one JSON object ...
            assert {"ts", "level", "logger", "message"} <= obj.keys(), line  # ... with the fields every line has
        # Nothing of what the action printed or returned, nor the guest key, reaches the process logs.
        text = "\n".join(lines)
        assert "secret-looking output" not in text and GUEST_AUTH[1] not in text


def invoke_as(api: httpx.Client, request_tid: str, name: str, **query: str) -> httpx.Response:
    answer = api.post(f"/api/v1/namespaces/_/actions/{name}", params=query, json={"n": 1},
                      headers={"X-Request-ID": request_tid})
    assert answer.headers["X-Request-ID"] == request_tid  # the controller took the caller's id
    return answer


def test_text_lines_are_followed_with_grep_too(text_stack: RunningStack) -> None:
    controller_log, invoker_log = text_stack.logs / "controller.log", text_stack.logs / "invoker.log"
    request_tid = tid()
    with httpx.Client(base_url=text_stack.url, auth=GUEST_AUTH, timeout=90.0) as api:
        put_action(api, "hello", CODE, limits={"memory": 128})
        answer = invoke_as(api, request_tid, "hello", blocking="true")
        assert answer.status_code == 200, answer.text
        activation_id = answer.json()["activationId"]
    [request] = grep(controller_log, f"tid={request_tid}")
    assert f"activation_id={activation_id}" in request and " INFO app.controller.access_log: POST " in request
    deadline = time.monotonic() + LINE_DEADLINE_S
    while not (ran := grep(invoker_log, f"tid={request_tid}")):
        assert time.monotonic() < deadline, invoker_log.read_text(errors="replace")[-3000:]
        time.sleep(0.1)  # polling a log file another process writes
    [line] = ran
    assert f"activation {activation_id} guest/hello success" in line and "status=success" in line
    assert not any(line.startswith("{") for line in controller_log.read_text().splitlines())
