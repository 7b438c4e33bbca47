"""The standalone platform's own logic: the spool, the in-process dispatcher, and what its options mean.
The invoker here is a stand-in with ``Invoker``'s two methods; the real one runs in tests/integration."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from app.core.entities import Activation, ActivationMessage, Status
from app.core.errors import Invalid, Unavailable
from app.standalone.dispatch import InProcessDispatcher
from app.standalone.options import StandaloneOptions, overrides, store_overrides
from app.standalone.spool import Spool
from workers.records import RecordNotStored

pytestmark = pytest.mark.unit


def message(n: int) -> ActivationMessage:
    return ActivationMessage(activation_id=f"{n:032x}", transaction_id="t", namespace="guest", subject="guest",
                             action="guest/hello", revision="1-a", content={"n": n}, blocking=True, received_ms=1)


class StandInInvoker:
    """Publishes ``{"n": ...}`` as the result; ``gate`` holds every run until set; ``refuse`` ids fail to store."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Semaphore(0)
        self.ran: list[str] = []
        self.refuse: set[str] = set()
        self.stored: list[dict[str, Any]] = []

    def invoke(self, msg: ActivationMessage, publish: Any, notes: Any = None) -> Activation:
        self.started.release()
        self.gate.wait()
        self.ran.append(msg.activation_id)
        activation = Activation.ended(namespace=msg.namespace, name="hello", version="0.0.1", subject=msg.subject,
                                      activation_id=msg.activation_id, start=1, end=2, status=Status.SUCCESS,
                                      result=msg.content)
        publish(activation.to_api())
        if msg.activation_id in self.refuse:
            raise RecordNotStored(activation.to_doc())
        return activation

    def store_record(self, doc: dict[str, Any]) -> None:
        self.stored.append(doc)


def dispatcher(tmp_path: Path, invoker: StandInInvoker, threads: int = 2) -> tuple[InProcessDispatcher, Spool]:
    spool = Spool(tmp_path / "spool")
    return InProcessDispatcher(invoker, spool, threads=threads, result_ttl_s=60), spool  # type: ignore[arg-type]


def test_spool_claims_once_and_forgets_when_done(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.accept(message(1))
    assert spool.pending() == [message(1)]
    assert spool.claim(message(1).activation_id) is True
    assert spool.claim(message(1).activation_id) is False
    spool.done(message(1).activation_id)
    assert spool.pending() == []
    assert spool.claim(message(1).activation_id) is True


def test_spool_drops_partial_writes_and_sets_aside_unreadable_ones(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    (spool.accepted / "x.partial").write_text('{"activation_id": ')
    (spool.accepted / "y.json").write_text("not json")
    assert spool.pending() == []
    assert not (spool.accepted / "x.partial").exists()
    assert (spool.accepted / "y.unreadable").exists()


def test_publish_then_wait_and_peek(tmp_path: Path) -> None:
    invoker = StandInInvoker()
    dispatch, spool = dispatcher(tmp_path, invoker)
    dispatch.publish(message(7))
    aid = message(7).activation_id
    waited, peeked = dispatch.wait(aid, timeout_s=30), dispatch.peek(aid)
    assert waited is not None and (waited.activation_id, waited.result) == (aid, {"n": 7})
    assert peeked == waited
    assert dispatch.peek("f" * 32) is None and dispatch.wait("f" * 32, 0.01) is None
    dispatch.shutdown(drain_s=30)
    dispatch.join()
    assert spool.pending() == []


def test_waiting_counts_what_was_accepted_and_not_started(tmp_path: Path) -> None:
    invoker = StandInInvoker()
    invoker.gate.clear()
    dispatch, _ = dispatcher(tmp_path, invoker, threads=1)
    assert dispatch.waiting() == 0
    for n in (1, 2, 3):
        dispatch.publish(message(n))
    assert invoker.started.acquire(timeout=30)  # one runs, held at the gate
    assert dispatch.waiting() == 2  # what standalone's metrics show as the invoker's queue
    invoker.gate.set()
    for n in (1, 2, 3):
        assert dispatch.wait(message(n).activation_id, timeout_s=30) is not None
    assert dispatch.waiting() == 0
    dispatch.shutdown(drain_s=30)
    dispatch.join()


def test_shutdown_keeps_what_never_started_for_the_next_start(tmp_path: Path) -> None:
    invoker = StandInInvoker()
    invoker.gate.clear()
    dispatch, spool = dispatcher(tmp_path, invoker, threads=1)
    for n in (1, 2, 3):
        dispatch.publish(message(n))
    assert invoker.started.acquire(timeout=30)  # the first one runs (held at the gate); two wait in the queue
    left = dispatch.shutdown(drain_s=0)
    assert sorted(left) == [message(2).activation_id, message(3).activation_id]
    assert dispatch.wait(message(2).activation_id, timeout_s=30) is None  # the caller is answered, with no result
    with pytest.raises(Unavailable):
        dispatch.publish(message(4))
    invoker.gate.set()
    dispatch.join()
    assert invoker.ran == [message(1).activation_id]

    again = StandInInvoker()
    second, _ = dispatcher(tmp_path, again)
    assert second.recover() == 2
    assert second.wait(message(3).activation_id, timeout_s=30) is not None
    second.shutdown(drain_s=30)
    second.join()
    assert sorted(again.ran) == [message(2).activation_id, message(3).activation_id]
    assert spool.pending() == []


def test_a_record_the_store_refused_is_kept_and_stored_at_the_next_start(tmp_path: Path) -> None:
    invoker = StandInInvoker()
    invoker.refuse.add(message(5).activation_id)
    dispatch, spool = dispatcher(tmp_path, invoker)
    dispatch.publish(message(5))
    assert dispatch.wait(message(5).activation_id, timeout_s=30) is not None
    dispatch.shutdown(drain_s=30)
    dispatch.join()
    assert [doc["activationId"] for _, doc in spool.kept_records()] == [message(5).activation_id]

    again = StandInInvoker()
    second, _ = dispatcher(tmp_path, again)
    assert second.recover() == 0  # the message itself finished: only its record was left
    assert [doc["activationId"] for doc in again.stored] == [message(5).activation_id]
    assert spool.kept_records() == []


def test_store_option_values(tmp_path: Path) -> None:
    assert store_overrides("sqlite", tmp_path) == {"store": {"kind": "sqlite", "path": str(tmp_path / "squall.db")}}
    assert store_overrides("sqlite:///var/x.db", tmp_path) == {"store": {"kind": "sqlite", "path": "/var/x.db"}}
    assert store_overrides("couchdb://admin:pw@db:5984", tmp_path) == {
        "store": {"kind": "couchdb"}, "couchdb": {"url": "http://admin:pw@db:5984"}}
    assert store_overrides("https://db.example", tmp_path)["couchdb"] == {"url": "https://db.example"}
    with pytest.raises(Invalid, match="--store"):
        store_overrides("mongodb://x", tmp_path)


def test_overrides_name_the_invoker_and_the_broker(tmp_path: Path) -> None:
    options = StandaloneOptions(tmp_path, broker="amqp://guest:guest@127.0.0.1:5672//", port=4000, name="sa1")
    sections = overrides(options, "process")
    assert sections["controller"]["api_host"] == "http://127.0.0.1:4000"
    assert sections["invoker"] == {"factory": "process", "name": "sa1", "queues": ("sa1",)}
    assert sections["broker"] == {"url": "amqp://guest:guest@127.0.0.1:5672//"}
    assert "broker" not in overrides(StandaloneOptions(tmp_path), "docker")
    with pytest.raises(Invalid, match="--containers"):
        overrides(options, "podman")
