"""A record the store refuses (issue 14, finding 4: a result holding NaN made CouchDB refuse the whole
``_bulk_docs``) never holds up the others: it is isolated, an error record takes its place, and its loss is a
dead letter that is logged, counted in the invoker's report and shown on the admin invokers page; the
``store_record`` task's retries are bounded and end in a dead letter too."""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx
import pytest

from app.core import strict_json
from app.core.entities import Activation, ActivationMessage, Document, Status, new_activation_id, now_ms
from app.core.errors import StoreError, StoreUnavailable
from app.core.invokers import InvokerStatus
from app.core.manifest import RuntimeManifest
from app.state.journal import MemoryJournal
from app.store.couchdb import CouchStore
from config.settings import CouchDBSettings, Settings
from tasks import invoke as invoke_tasks
from tasks.base import SquallTask, WorkerContext
from tests.fakes import DictActivationStore, DictEntityStore
from workers.completion import ActivationRunner
from workers.invoker import Invoker
from workers.pool import ContainerPool
from workers.records import REFUSED, RecordNotStored, RecordRefused, RecordWriter, stand_in

pytestmark = pytest.mark.unit

NO_PAUSE = (0.0, 0.0, 0.0)


def record(i: int, result: Any = None) -> Document:
    activation_id = f"{i:032x}"
    return {"_id": f"alice/{activation_id}", "entityType": "activation", "namespace": "alice", "name": "a",
            "version": "0.0.1", "subject": "alice", "activationId": activation_id, "start": 1000 + i,
            "end": 1001 + i, "duration": 1, "publish": False, "logs": ["line"],
            "annotations": [{"key": "path", "value": "alice/pkg/a"}, {"key": "limits", "value": {"x": result}}],
            "response": {"statusCode": 0, "result": {"x": i} if result is None else {"x": result}}}


class StrictBulkStore:
    """``put_activations`` as the contract has it: per doc None, or why the store refused it (here: a doc that is
    not strict JSON, as CouchDB refuses NaN), the others stored all the same."""

    def __init__(self, refuse_all: bool = False) -> None:
        self.docs: dict[str, Document] = {}
        self.batches: list[list[str]] = []
        self.refuse_all = refuse_all

    def put_activations(self, docs: list[Document]) -> list[str | None]:
        self.batches.append([d["_id"] for d in docs])
        outcomes: list[str | None] = []
        for doc in docs:
            try:
                if self.refuse_all:
                    raise strict_json.NotStrictJson("refusing everything")
                strict_json.check(doc)
            except strict_json.NotStrictJson as e:
                outcomes.append(f"bad_request: {e}")
                continue
            self.docs.setdefault(doc["_id"], doc)
            outcomes.append(None)
        return outcomes


# --- the writer ---------------------------------------------------------------------------------------------


def test_a_refused_record_does_not_hold_up_its_batch_and_an_error_record_takes_its_place() -> None:
    store = StrictBulkStore()
    writer = RecordWriter(store, retry_pauses_s=NO_PAUSE, linger_s=0.1)  # the five gather in one batch
    bad = record(2, float("nan"))
    outcomes: dict[int, BaseException | None] = {}

    def store_one(i: int, doc: Document) -> None:
        try:
            writer.store(doc)
            outcomes[i] = None
        except BaseException as e:
            outcomes[i] = e

    threads = [threading.Thread(target=store_one, args=(i, bad if i == 2 else record(i))) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    writer.close()
    assert [outcomes[i] for i in (0, 1, 3, 4)] == [None] * 4
    assert all(record(i)["_id"] in store.docs for i in (0, 1, 3, 4))
    first = store.batches[0]
    assert len(first) == 5  # one batch for all five: the others were stored with it, not after the retries
    refused = outcomes[2]
    assert isinstance(refused, RecordRefused) and refused.doc is bad and "not a JSON number" in refused.reason
    kept = store.docs[bad["_id"]]
    assert kept == stand_in(bad)
    assert kept["response"] == {"statusCode": int(Status.WHISK_ERROR), "result": {"error": REFUSED}}
    assert store.batches.count([bad["_id"]]) == 1 + len(NO_PAUSE)  # retried alone, then its stand-in
    assert Activation.from_doc(kept).activation_id == bad["activationId"]  # readable as an activation


def test_the_stand_in_keeps_names_and_times_and_nothing_of_the_refused_content() -> None:
    bad = record(7, float("inf"))
    bad["cause"] = "c" * 32
    bad["name"] = "bad\ud800"  # not even a name survives when it is not strict
    kept = stand_in(bad)
    strict_json.check(kept)
    assert kept["activationId"] == bad["activationId"] and kept["_id"] == bad["_id"]
    assert (kept["start"], kept["end"], kept["duration"], kept["cause"]) == (1007, 1008, 1, "c" * 32)
    assert kept["name"] == "unknown" and kept["logs"] == []
    assert Activation.from_doc(kept).status == Status.WHISK_ERROR
    assert kept["annotations"] == [{"key": "path", "value": "alice/pkg/a"}]


def test_a_stand_in_the_store_refuses_too_goes_back_to_its_caller_as_the_record_itself() -> None:
    writer = RecordWriter(StrictBulkStore(refuse_all=True), retry_pauses_s=NO_PAUSE)
    with pytest.raises(RecordNotStored) as raised:
        writer.store(record(1))
    writer.close()
    assert raised.value.doc == record(1)  # kept for the store_record task, whose retries are bounded


# --- CouchStore: one bad document makes CouchDB refuse the whole request -------------------------------------


class CouchBulkDocs:
    """``_bulk_docs`` as CouchDB answers it: ``400 invalid_json`` for a request with NaN anywhere in it."""

    def __init__(self) -> None:
        self.docs: dict[str, Document] = {}
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/_bulk_docs"), request.url
        self.requests += 1
        try:
            body = strict_json.loads(request.content)
        except ValueError:
            return httpx.Response(400, json={"error": "bad_request", "reason": "invalid_json"})
        for doc in body["docs"]:
            self.docs[doc["_id"]] = doc
        return httpx.Response(201, json=[{"ok": True, "id": d["_id"], "rev": "1-a"} for d in body["docs"]])


def test_couch_store_isolates_a_document_that_fails_the_whole_bulk_request() -> None:
    server = CouchBulkDocs()
    store = CouchStore(CouchDBSettings(url="http://couch.test:5984", prefix="t_"),
                       transport=httpx.MockTransport(server))
    docs = [record(i, float("nan") if i == 5 else None) for i in range(8)]
    outcomes = store.put_activations(docs)
    store.close()
    assert [o is None for o in outcomes] == [i != 5 for i in range(8)]
    assert outcomes[5] is not None and "invalid_json" in outcomes[5]
    assert sorted(server.docs) == sorted(d["_id"] for i, d in enumerate(docs) if i != 5)
    assert server.requests <= 1 + 2 * 3  # the whole batch, then halves down to the one (log2 8 = 3 levels)


def test_couch_store_still_raises_when_it_cannot_be_reached() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": "unavailable", "reason": "maintenance"})

    store = CouchStore(CouchDBSettings(url="http://couch.test:5984", prefix="t_"), transport=httpx.MockTransport(down))
    with pytest.raises(StoreUnavailable):
        store.put_activations([record(1), record(2)])
    store.close()


# --- the runner: dead letters, logged and counted ------------------------------------------------------------


class NoFactory:
    def create(self, spec: Any) -> Any:
        raise AssertionError("no container expected")

    def cleanup(self) -> None: ...

    def close(self) -> None: ...


class Keeper:
    """``FollowUps`` that records what it is handed."""

    def __init__(self) -> None:
        self.kept: list[Document] = []

    def keep_record(self, doc: Document) -> None:
        self.kept.append(doc)

    def continue_composition(self, event: dict[str, Any]) -> None:
        raise AssertionError("no composition here")


class RefusingBulkStore(StrictBulkStore):
    """Refuses the records of the activations in ``refuse`` (their stand-ins are stored)."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse: set[str] = set()

    def put_activations(self, docs: list[Document]) -> list[str | None]:
        outcomes: list[str | None] = []
        for doc in docs:
            refused = doc["activationId"] in self.refuse and doc["response"]["result"] != {"error": REFUSED}
            outcomes.append("forbidden: no" if refused else super().put_activations([doc])[0])
        return outcomes


def runner_over(bulk: RefusingBulkStore, activations: Any = None) -> tuple[ActivationRunner, Keeper]:
    settings = Settings()
    manifest = RuntimeManifest.from_dict({"runtimes": {"python": [
        {"kind": "python:3", "default": True, "image": {"prefix": "squall", "name": "action-python-v3"}}]}})
    invoker = Invoker(DictEntityStore(), activations or DictActivationStore(),
                      ContainerPool(NoFactory(), settings.invoker), manifest, settings, MemoryJournal(),
                      records=RecordWriter(bulk, retry_pauses_s=NO_PAUSE))
    keeper = Keeper()
    return ActivationRunner(invoker, keeper), keeper


def message() -> ActivationMessage:
    return ActivationMessage(activation_id=new_activation_id(), transaction_id="t", namespace="alice",
                             subject="alice", action="alice/gone", revision="1-a", content={}, blocking=True,
                             received_ms=now_ms())


def test_a_refused_record_is_a_dead_letter_logged_and_counted_in_the_report(caplog: pytest.LogCaptureFixture) -> None:
    bulk = RefusingBulkStore()
    runner, keeper = runner_over(bulk)
    msg = message()
    bulk.refuse.add(msg.activation_id)
    try:
        assert runner.status()["dead_letters"] == 0
        with caplog.at_level(logging.ERROR, logger="workers.completion"):
            activation = runner.run(msg, lambda doc: None)
        assert activation.activation_id == msg.activation_id
        assert keeper.kept == []  # not handed to store_record: it would be refused there for ever
        assert bulk.docs[f"alice/{msg.activation_id}"]["response"]["result"] == {"error": REFUSED}
        report = runner.status()
        assert report["dead_letters"] == 1
        assert InvokerStatus.from_report("h", report, None).dead_letters == 1
        assert any("dead letter" in r.message and msg.activation_id in r.message for r in caplog.records)
        runner.run(message(), lambda doc: None)  # another activation is stored as ever
        assert runner.status()["dead_letters"] == 1
    finally:
        runner.close()


class SingleStore(DictActivationStore):
    """``put_activation`` refusing docs that are not strict JSON (as CouchDB does), or down."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def put_activation(self, doc: dict[str, Any]) -> None:
        if self.down:
            raise StoreUnavailable("down")
        try:
            strict_json.check(doc)
        except strict_json.NotStrictJson as e:
            raise StoreError(f"answered 400: bad_request: {e}") from e
        super().put_activation(doc)


def test_the_store_record_path_replaces_a_refused_record_instead_of_retrying_it() -> None:
    single = SingleStore()
    runner, _ = runner_over(RefusingBulkStore(), activations=single)
    try:
        bad = record(3, float("nan"))
        runner.store_record(bad)  # returns: nothing left to retry
        assert single.docs[bad["_id"]] == stand_in(bad)
        assert runner.status()["dead_letters"] == 1
        single.down = True
        with pytest.raises(StoreUnavailable):  # down: the task retries later; no dead letter yet
            runner.store_record(record(4))
        assert runner.status()["dead_letters"] == 1
    finally:
        runner.close()


# --- the store_record task: bounded retries ending in a dead letter -----------------------------------------


class DownRunner:
    """``tasks.base.ActivationRunning`` whose store stays down."""

    def __init__(self) -> None:
        self.attempts = 0
        self.dead: list[tuple[Document, str]] = []

    def run(self, message: ActivationMessage, publish_result: Any) -> Activation:
        raise AssertionError("not run here")

    def store_record(self, doc: Document) -> None:
        self.attempts += 1
        raise StoreUnavailable("CouchDB cannot be reached")

    def dead_letter(self, doc: Document, why: str) -> None:
        self.dead.append((doc, why))

    def status(self) -> dict[str, Any]:
        return {}

    def close(self) -> None: ...


def test_the_store_record_task_gives_up_after_bounded_retries_with_a_dead_letter() -> None:
    runner = DownRunner()
    SquallTask.install(WorkerContext(runner=runner))
    try:
        # Eager: each retry runs at once, in this thread, as the worker would run it after its countdown.
        result = invoke_tasks.store_record.apply(kwargs={"doc": record(1)})
    finally:
        SquallTask._context = None  # not uninstall(): that would close the runner
    assert result.successful()
    assert runner.attempts == invoke_tasks.STORE_RETRIES + 1
    assert len(runner.dead) == 1
    doc, why = runner.dead[0]
    assert doc == record(1) and "CouchDB cannot be reached" in why


def test_the_retries_span_hours_not_for_ever() -> None:
    from celery.utils.time import get_exponential_backoff_interval

    total = sum(get_exponential_backoff_interval(1, n, invoke_tasks.STORE_RETRY_MAX_S)
                for n in range(invoke_tasks.STORE_RETRIES))
    assert 3600 <= total <= 3 * 3600
    assert invoke_tasks.store_record.max_retries == invoke_tasks.STORE_RETRIES
