"""The batched record writer: every record ends stored, or its caller is told it is not."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from app.core.entities import ActivationMessage, new_activation_id, now_ms
from app.core.errors import StoreError
from app.core.manifest import RuntimeManifest
from app.state.journal import MemoryJournal
from config.settings import Settings
from tests.fakes import DictActivationStore, DictEntityStore
from workers.invoker import Invoker
from workers.pool import ContainerPool
from workers.records import RecordNotStored, RecordWriter

pytestmark = pytest.mark.unit

NO_PAUSE = (0.0, 0.0, 0.0)


class BulkStore:
    """Dict-backed ``put_activations``; ``failures`` scripts what the next calls do."""

    def __init__(self, failures: list[Any] | None = None, gate: threading.Event | None = None) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.batches: list[int] = []
        self.failures = failures or []
        self.gate = gate
        self.entered = threading.Event()

    def put_activations(self, docs: list[dict[str, Any]]) -> list[str | None]:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        self.batches.append(len(docs))
        if self.failures:
            failure = self.failures.pop(0)
            if failure == "down":
                raise StoreError("couch is down")
            if failure == "refuse-first":
                outcomes: list[str | None] = ["forbidden: no"] + [None] * (len(docs) - 1)
                for doc in docs[1:]:
                    self.docs.setdefault(doc["_id"], doc)
                return outcomes
        for doc in docs:
            self.docs.setdefault(doc["_id"], doc)  # a second record for an id: already stored, not an error
        return [None] * len(docs)


def doc(i: int) -> dict[str, Any]:
    return {"_id": f"guest/{i:032x}", "activationId": f"{i:032x}"}


def test_store_returns_once_stored() -> None:
    store = BulkStore()
    writer = RecordWriter(store, retry_pauses_s=NO_PAUSE)
    writer.store(doc(1))
    assert doc(1)["_id"] in store.docs
    writer.close()


def test_records_queued_while_a_batch_is_written_go_out_together() -> None:
    gate = threading.Event()
    store = BulkStore(gate=gate)
    writer = RecordWriter(store, retry_pauses_s=NO_PAUSE)
    first = threading.Thread(target=writer.store, args=(doc(0),))
    first.start()
    assert store.entered.wait(10)  # the writer is inside the first write, held by the gate
    rest = [threading.Thread(target=writer.store, args=(doc(i),)) for i in range(1, 9)]
    for thread in rest:
        thread.start()
    while len(writer._queue) < 8:  # the callers have queued (state, not time)
        threading.Event().wait(0.001)
    gate.set()
    for thread in [first, *rest]:
        thread.join(10)
    assert store.batches == [1, 8]
    assert len(store.docs) == 9
    writer.close()


def test_a_batch_lingers_for_more_records_until_it_is_full() -> None:
    store = BulkStore()
    writer = RecordWriter(store, retry_pauses_s=NO_PAUSE, max_batch=3, linger_s=60.0)
    threads = [threading.Thread(target=writer.store, args=(doc(i),)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert store.batches == [3]  # a full batch goes at once, long before the linger ends
    writer.close()


def test_a_store_briefly_down_is_retried() -> None:
    store = BulkStore(failures=["down", "down"])
    writer = RecordWriter(store, retry_pauses_s=NO_PAUSE)
    writer.store(doc(1))
    assert doc(1)["_id"] in store.docs and store.batches == [1, 1, 1]
    writer.close()


def test_a_store_down_through_every_retry_raises_record_not_stored_with_the_doc() -> None:
    store = BulkStore(failures=["down"] * 4)
    writer = RecordWriter(store, retry_pauses_s=NO_PAUSE)
    with pytest.raises(RecordNotStored) as raised:
        writer.store(doc(1))
    assert raised.value.doc == doc(1)
    assert store.batches == [1, 1, 1, 1] and store.docs == {}
    writer.close()


def test_one_refused_record_is_retried_alone_while_the_others_are_stored() -> None:
    gate = threading.Event()
    store = BulkStore(failures=["refuse-first"], gate=gate)
    writer = RecordWriter(store, retry_pauses_s=NO_PAUSE)
    threads = [threading.Thread(target=writer.store, args=(doc(i),)) for i in range(3)]
    threads[0].start()
    assert store.entered.wait(10)
    for thread in threads[1:]:
        thread.start()
    while len(writer._queue) < 2:
        threading.Event().wait(0.001)
    gate.set()
    for thread in threads:
        thread.join(10)
    assert len(store.docs) == 3


def test_after_close_a_record_is_refused_to_its_caller() -> None:
    writer = RecordWriter(BulkStore(), retry_pauses_s=NO_PAUSE)
    writer.close()
    with pytest.raises(RecordNotStored):
        writer.store(doc(1))


# --- the invoker's hook ---------------------------------------------------------------------------------


class NoFactory:
    """A factory the tests below never reach (the action is missing, so no container is asked for)."""

    def create(self, spec: Any) -> Any:
        raise AssertionError("no container expected")

    def cleanup(self) -> None: ...

    def close(self) -> None: ...


def invoker_with(store: BulkStore) -> tuple[Invoker, list[dict[str, Any]]]:
    settings = Settings()
    pool = ContainerPool(NoFactory(), settings.invoker)
    manifest = RuntimeManifest.from_dict({"runtimes": {"python": [
        {"kind": "python:3", "default": True, "image": {"prefix": "squall", "name": "action-python-v3"}}]}})
    records = RecordWriter(store, retry_pauses_s=NO_PAUSE)
    invoker = Invoker(DictEntityStore(), DictActivationStore(), pool, manifest, settings, MemoryJournal(),
                      records=records)
    return invoker, []


def message() -> ActivationMessage:
    return ActivationMessage(activation_id=new_activation_id(), transaction_id="t", namespace="alice",
                             subject="alice", action="alice/gone", revision="1-a", content={}, blocking=True,
                             received_ms=now_ms())


def test_the_invoker_returns_only_after_the_writer_stored_the_record() -> None:
    store = BulkStore()
    invoker, published = invoker_with(store)
    try:
        msg = message()
        invoker.invoke(msg, published.append)
        assert list(store.docs) == [f"alice/{msg.activation_id}"]
        assert published[0]["activationId"] == msg.activation_id  # answered first, then stored
    finally:
        invoker.close()


def test_the_invoker_raises_record_not_stored_when_the_writer_gives_up() -> None:
    invoker, published = invoker_with(BulkStore(failures=["down"] * 4))
    try:
        msg = message()
        with pytest.raises(RecordNotStored) as raised:
            invoker.invoke(msg, published.append)
        assert raised.value.doc["activationId"] == msg.activation_id  # the task hands this to store_record
    finally:
        invoker.close()
