"""Activation retention and ``storeActivations`` through the real stack (CouchDB-API server, RabbitMQ, Redis,
Docker): ``squall admin retention run``, the scheduler's own sweeps, and a namespace that keeps no records."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest

from app.core.entities import Activation, Status, new_activation_id, now_ms
from app.core.services.retention import DAY_MS
from app.store import Store, open_store
from bench.stack import squall, start, stop, wait_ready
from config import load_settings
from tests.integration.conftest import Stack
from tests.integration.helpers import invoke, put_action, wait_for_record

pytestmark = pytest.mark.integration

ECHO = "def main(args):\n    return {'echo': args.get('n')}\n"
DEADLINE_S = 60.0


@pytest.fixture
def store(stack: Stack) -> Iterator[Store]:
    """The stack's own databases, as the invokers write them."""
    opened = open_store(load_settings(stack.env))
    try:
        yield opened
    finally:
        opened.close()


def _record(namespace: str, days_ago: float) -> dict[str, object]:
    start_ms = now_ms() - int(days_ago * DAY_MS)
    return Activation(namespace=namespace, name="old", version="0.0.1", subject=namespace,
                      activation_id=new_activation_id(), start=start_ms, end=start_ms + 5, status=Status.SUCCESS,
                      result={"ok": True}, logs=[], annotations=[{"key": "path", "value": f"{namespace}/old"}],
                      ).to_doc()


def _starts(store: Store, namespace: str) -> int:
    return store.count_activations(namespace, None, None, None)


def test_retention_run_deletes_what_each_namespace_no_longer_keeps(stack: Stack, store: Store, unique: str) -> None:
    short, forever, default = f"short{unique}", f"forever{unique}", f"default{unique}"
    squall(stack.env, "admin", "limits", "set", short, "--activations-keep-days", "2")
    squall(stack.env, "admin", "limits", "set", forever, "--activations-keep-days", "0")
    assert squall(stack.env, "admin", "limits", "get", short) == '{"activationsKeepDays": 2}'
    docs = ([_record(short, d) for d in (5, 3, 1, 0.1)] + [_record(forever, d) for d in (400, 40)]
            + [_record(default, d) for d in (31, 29)])  # the deployment keeps 30 days (the default)
    assert store.put_activations(docs) == [None] * len(docs)

    printed = squall(stack.env, "admin", "retention", "run")

    assert f"{short}: 2 deleted" in printed and f"{default}: 1 deleted" in printed
    assert forever not in printed
    assert (_starts(store, short), _starts(store, forever), _starts(store, default)) == (2, 2, 1)
    again = squall(stack.env, "admin", "retention", "run")
    assert short not in again and default not in again  # nothing of theirs is due any more


def test_the_scheduler_sweeps_by_itself(stack: Stack, store: Store, unique: str) -> None:
    namespace = f"swept{unique}"
    squall(stack.env, "admin", "limits", "set", namespace, "--activations-keep-days", "1")
    assert store.put_activations([_record(namespace, 2), _record(namespace, 0.5)]) == [None, None]
    env = {**stack.env, "SQUALL_SCHEDULER_QUEUE": f"alarms-{secrets.token_hex(4)}",
           "SQUALL_RETENTION_INTERVAL_S": "1"}
    log = stack.logs / f"scheduler-retention-{unique}.log"
    process = start(env, log, "scheduler")
    try:
        wait_ready(lambda: "ready." in log.read_text(errors="replace"), "scheduler", [process], log)
        deadline = time.monotonic() + DEADLINE_S
        while _starts(store, namespace) != 1:
            assert time.monotonic() < deadline, f"the scheduler did not sweep:\n{log.read_text(errors='replace')}"
            time.sleep(0.5)
    finally:
        stop(process)
    assert "retention sweep: " in log.read_text(errors="replace")


def test_a_namespace_that_stores_no_activations_still_answers(stack: Stack, unique: str) -> None:
    namespace = f"nostore{unique}"
    uuid, key = squall(stack.env, "admin", "user", "create", namespace).split(":", 1)
    squall(stack.env, "admin", "limits", "set", namespace, "--store-activations", "false")
    with stack.client(auth=(uuid, key)) as api, stack.client() as guest:
        assert api.get("/api/v1/namespaces/_/limits").json()["storeActivations"] is False
        put_action(api, "echo", ECHO)
        assert api.put("/api/v1/namespaces/_/actions/seq", json={
            "exec": {"kind": "sequence", "components": [f"/{namespace}/echo", f"/{namespace}/echo"]}}).is_success

        blocking = invoke(api, "echo", {"n": 1}, blocking="true")
        assert blocking.status_code == 200 and blocking.json()["response"]["result"] == {"echo": 1}
        sequence = invoke(api, "seq", {"n": 2}, blocking="true", result="true")
        assert sequence.status_code == 200 and sequence.json() == {"echo": None}  # the second gets {"echo": 2}
        later = invoke(api, "echo", {"n": 3})
        assert later.status_code == 202
        assert api.put("/api/v1/namespaces/_/triggers/t", json={}).is_success
        assert api.put("/api/v1/namespaces/_/rules/r", json={"trigger": "t", "action": "echo"}).is_success
        fired = api.post("/api/v1/namespaces/_/triggers/t", json={"n": 5})
        assert fired.status_code == 202
        unstored = [blocking.json()["activationId"], later.json()["activationId"], fired.json()["activationId"]]

        # A record of another namespace, published after these, is stored: theirs would have been by now.
        put_action(guest, f"{unique}-echo", ECHO)
        control = invoke(guest, f"{unique}-echo", {"n": 4})
        wait_for_record(guest, control.json()["activationId"])
        time.sleep(1.0)  # and the record writer's batches are far shorter than this
        for activation_id in unstored:
            assert api.get(f"/api/v1/namespaces/_/activations/{activation_id}").status_code == 404
        assert api.get("/api/v1/namespaces/_/activations").json() == []
