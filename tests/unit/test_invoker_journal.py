"""When the invoker claims an activation (right before ``/run``), what it keeps until the record is stored, and what
a redelivered message then does: a small HTTP server of this test plays the action's proxy, so every run is
counted; the journal, stores and container are fakes of our own ports."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.core.entities import Action, ActivationMessage, Document, Exec, Status, new_activation_id, now_ms
from app.core.errors import StoreError, Unavailable
from app.core.limits import ActionLimits
from app.core.manifest import RuntimeManifest
from app.core.names import EntityPath
from app.state.journal import MemoryJournal
from config.settings import Settings
from tests.fakes import DictActivationStore, DictEntityStore
from tests.unit.test_pool import FakeContainer
from workers.factories.base import ContainerSpec
from workers.invoker import REDELIVERED, Invoker, TryLater
from workers.pool import ContainerPool
from workers.records import DirectRecordWriter

pytestmark = pytest.mark.unit

MANIFEST = RuntimeManifest.from_dict({"runtimes": {"python": [
    {"kind": "python:3", "default": True, "image": {"prefix": "squall", "name": "action-python-v3"}}]}})


class Proxy:
    """The action's proxy: answers ``/init`` and ``/run`` (the run's result is its input) and counts both."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                proxy.calls.append(self.path)
                answer = json.dumps(body["value"] if self.path == "/run" else {"ok": True}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def runs(self) -> int:
        return self.calls.count("/run")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class ProxiedFactory:
    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.created = 0

    def create(self, spec: ContainerSpec) -> FakeContainer:
        self.created += 1
        container = FakeContainer(f"c{self.created}", spec)
        container.port = self.proxy.port
        return container

    def cleanup(self) -> None:
        pass

    def close(self) -> None:
        pass


class SpyJournal(MemoryJournal):
    """A ``MemoryJournal`` that notes what the proxy had seen at each claim, and can be unreachable."""

    def __init__(self, proxy: Proxy, failures: int = 0) -> None:
        super().__init__()
        self.proxy = proxy
        self.failures = failures
        self.seen_at_claim: list[list[str]] = []

    def claim(self, activation_id: str) -> bool:
        if self.failures:
            self.failures -= 1
            raise Unavailable("journal away")
        self.seen_at_claim.append(list(self.proxy.calls))
        return super().claim(activation_id)


class Died(BaseException):
    """The invoker process ends here (a kill -9 between the run and the stored record)."""


class DyingRecords:
    def store(self, doc: Document) -> None:
        raise Died()

    def close(self) -> None:
        pass


class DownEntityStore(DictEntityStore):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def get_entity(self, doc_id: str) -> dict[str, Any]:
        if self.failures:
            self.failures -= 1
            raise StoreError("store away")
        return super().get_entity(doc_id)


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    server = Proxy()
    yield server
    server.close()


class World:
    """What outlives one invoker process: the store, the journal, the action's proxy."""

    def __init__(self, proxy: Proxy, journal: MemoryJournal, entities: DictEntityStore | None = None) -> None:
        self.proxy = proxy
        self.journal = journal
        self.entities = entities if entities is not None else DictEntityStore()
        self.activations = DictActivationStore()
        self.invokers: list[Invoker] = []
        action = Action(EntityPath("guest", "hello"), Exec("python:3", code="def main(a): return a"),
                        ActionLimits(60000, 256, 0, 1), rev="1-abc")  # no logs: nothing to wait for
        self.entities.docs[action.path.doc_id] = action.to_doc()

    def invoker(self, records: Any = None) -> Invoker:
        settings = Settings()
        pool = ContainerPool(ProxiedFactory(self.proxy), settings.invoker)
        invoker = Invoker(self.entities, self.activations, pool, MANIFEST, settings, self.journal,
                          records=records or DirectRecordWriter(self.activations, pauses_s=(0.0,)),
                          retry_pauses_s=(0.0, 0.0))
        self.invokers.append(invoker)
        return invoker

    def close(self) -> None:
        for invoker in self.invokers:
            invoker.close()


def message() -> ActivationMessage:
    return ActivationMessage(activation_id=new_activation_id(), transaction_id="t", namespace="guest",
                             subject="guest", action="guest/hello", revision="1-abc", content={"n": 7},
                             blocking=True, received_ms=now_ms())


@pytest.fixture
def world(proxy: Proxy) -> Iterator[World]:
    made = World(proxy, SpyJournal(proxy))
    yield made
    made.close()


def test_the_claim_comes_after_the_container_is_initialized_and_before_the_run(world):
    activation = world.invoker().invoke(message(), lambda _doc: None)
    assert activation.status == Status.SUCCESS and activation.result == {"n": 7}
    assert world.journal.seen_at_claim == [["/init"]]  # initialized, not yet run
    assert world.proxy.runs == 1


def test_a_record_is_kept_until_it_is_stored_then_dropped(world):
    msg = message()
    world.invoker().invoke(msg, lambda _doc: None)
    assert world.journal.kept(msg.activation_id) is None
    assert f"guest/{msg.activation_id}" in world.activations.docs


def test_an_invoker_that_dies_after_the_run_leaves_the_real_result_for_the_redelivery(world):
    msg = message()
    with pytest.raises(Died):
        world.invoker(records=DyingRecords()).invoke(msg, lambda _doc: None)
    assert world.activations.docs == {}  # the first invoker stored nothing
    published: list[Document] = []
    again = world.invoker().invoke(msg, published.append)  # the redelivered message, on another invoker
    assert again.status == Status.SUCCESS and again.result == {"n": 7}
    assert world.proxy.runs == 1  # not run a second time
    stored = world.activations.docs[f"guest/{msg.activation_id}"]
    assert stored["response"]["result"] == {"n": 7} and stored["response"]["statusCode"] == 0
    assert published and published[0]["response"]["result"] == {"n": 7}
    assert world.journal.kept(msg.activation_id) is None


class SharedJournal(SpyJournal):
    """A journal whose keep, like Redis', is a write left for the result's round trip (applied when it is sent)."""

    def keep_later(self, activation_id: str, doc: Document) -> tuple[Any, ...]:
        return ("SET", activation_id, json.dumps(doc))


def test_a_shared_journal_keeps_the_record_in_the_results_round_trip_before_it(proxy):
    world = World(proxy, SharedJournal(proxy))
    sent: list[tuple[Document, tuple[Any, ...]]] = []

    def publish(doc: Document, *writes: Any) -> None:
        kept = {w[1]: json.loads(w[2]) for w in writes if w[0] == "SET"}
        sent.append((doc, writes))
        for aid, record in kept.items():  # the round trip goes out: the journal holds it first
            MemoryJournal.keep(world.journal, aid, record)

    try:
        msg = message()
        with pytest.raises(Died):  # dies after the result went out, before its record is stored
            world.invoker(records=DyingRecords()).invoke(msg, publish)
        [(doc, writes)] = sent
        assert doc["activationId"] == msg.activation_id and [w[0] for w in writes] == ["SET"]
        again = world.invoker().invoke(msg, lambda _doc: None)  # the redelivery stores the kept record
        assert again.result == {"n": 7} and world.proxy.runs == 1  # not run twice
        assert world.activations.docs[f"guest/{msg.activation_id}"]["response"]["result"] == {"n": 7}
    finally:
        world.close()


def test_a_redelivery_of_an_activation_that_started_and_never_ended_is_recorded_not_run(world):
    msg = message()
    world.journal.claim(msg.activation_id)  # the first invoker died while its action ran
    activation = world.invoker().invoke(msg, lambda _doc: None)
    assert activation.status == Status.WHISK_ERROR and activation.result == {"error": REDELIVERED}
    assert world.proxy.runs == 0


def test_a_journal_briefly_away_is_waited_for(proxy):
    world = World(proxy, SpyJournal(proxy, failures=2))
    try:
        activation = world.invoker().invoke(message(), lambda _doc: None)
        assert activation.status == Status.SUCCESS and world.proxy.runs == 1
    finally:
        world.close()


def test_a_journal_that_stays_away_puts_the_message_back_and_nothing_runs(proxy):
    world = World(proxy, SpyJournal(proxy, failures=100))
    try:
        invoker = world.invoker()
        msg = message()
        with pytest.raises(TryLater):
            invoker.invoke(msg, lambda _doc: None)
        assert world.proxy.runs == 0 and world.activations.docs == {}
        assert invoker.status()["pool"]["busy"] == 0  # the container went back
        world.journal.failures = 0  # the journal is back: the requeued message runs, once
        assert invoker.invoke(msg, lambda _doc: None).status == Status.SUCCESS
        assert world.proxy.runs == 1
    finally:
        world.close()


def test_a_store_that_stays_away_while_fetching_the_action_puts_the_message_back(proxy):
    world = World(proxy, SpyJournal(proxy), entities=DownEntityStore(failures=100))
    try:
        with pytest.raises(TryLater):
            world.invoker().invoke(message(), lambda _doc: None)
        assert world.proxy.calls == [] and world.activations.docs == {}
    finally:
        world.close()


def test_a_store_briefly_away_while_fetching_the_action_is_waited_for(proxy):
    world = World(proxy, SpyJournal(proxy), entities=DownEntityStore(failures=2))
    try:
        assert world.invoker().invoke(message(), lambda _doc: None).status == Status.SUCCESS
    finally:
        world.close()


class LaterJournal(SharedJournal):
    """A shared journal whose drops, like Redis', are left for a later round trip."""

    def __init__(self, proxy: Proxy) -> None:
        super().__init__(proxy)
        self.pending: list[str] = []

    def forget_later(self, activation_id: str) -> None:
        self.pending.append(activation_id)

    def forgotten(self) -> tuple[Any, ...] | None:
        ids, self.pending = self.pending, []
        return ("DEL", *ids) if ids else None


def test_a_stored_activations_kept_record_is_dropped_with_the_next_result(proxy):
    world = World(proxy, LaterJournal(proxy))
    sent: list[tuple[Any, ...]] = []

    def publish(doc: Document, *writes: Any) -> None:
        sent.append(tuple(w[:2] if w[0] == "SET" else w for w in writes))
        for write in writes:  # the round trip goes out: Redis applies each write
            if write[0] == "SET":
                MemoryJournal.keep(world.journal, write[1], json.loads(write[2]))
            elif write[0] == "DEL":
                for aid in write[1:]:
                    MemoryJournal.forget(world.journal, aid)

    try:
        first, second = message(), message()
        world.invoker().invoke(first, publish)
        assert world.journal.kept(first.activation_id) is not None  # stored; its drop waits for a round trip
        world.invoker().invoke(second, publish)
        # The second result's round trip drops the first's copy, ahead of keeping its own.
        assert sent == [(("SET", first.activation_id),),
                        (("DEL", first.activation_id), ("SET", second.activation_id))]
        assert world.journal.kept(first.activation_id) is None
        assert world.journal.pending == [second.activation_id]
        assert f"guest/{first.activation_id}" in world.activations.docs
    finally:
        world.close()
