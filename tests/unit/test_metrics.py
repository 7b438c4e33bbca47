"""The invoker's metrics and what the controller's and the invoker's share: label values, start kinds, the times a
record holds, the bearer token; the counts an activation leaves (through a real ``Invoker`` and ``ContainerPool``
over a small HTTP server playing the action's proxy); what a scrape reads from the pool, the record writer and the
broker queue; the invoker's ``/metrics`` server; the settings; the gunicorn hooks of the controller's directory.
Every scrape is read back with the client library's own parser."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.core.entities import Action, Activation, ActivationMessage, Exec, Status, new_activation_id, now_ms
from app.core.errors import StoreError
from app.core.limits import ActionLimits
from app.core.metrics import COLD, PREWARM, WARM, bearer_matches, init_seconds, start_kind, wait_seconds
from app.core.names import EntityPath
from app.state.journal import MemoryJournal
from config import SettingsError, load_settings
from config.settings import Settings
from tests.fakes import DictActivationStore, DictEntityStore
from tests.unit.test_invoker_journal import MANIFEST, ProxiedFactory, Proxy
from workers.completion import ActivationRunner
from workers.factories.base import ContainerSpec
from workers.invoker import Invoker
from workers.metrics import UNAUTHORIZED, InvokerMetrics, MetricsServer
from workers.pool import ContainerPool, StemCellSpec
from workers.records import RecordNotStored, RecordWriter

pytestmark = pytest.mark.unit

Labels = tuple[tuple[str, str], ...]


def scrape(registry: CollectorRegistry) -> dict[str, dict[Labels, float]]:
    """Every sample of a scrape, by name and then by labels, as Prometheus' parser reads the text."""
    found: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def record(status: Status = Status.SUCCESS, *, duration_ms: int = 40, wait_ms: int | None = 12,
           init_ms: int | None = None, kind: str | None = "python:3", namespace: str = "alice") -> Activation:
    annotations: list[dict[str, Any]] = []
    if wait_ms is not None:
        annotations.append({"key": "waitTime", "value": wait_ms})
    if kind is not None:
        annotations.append({"key": "kind", "value": kind})
    if init_ms is not None:
        annotations.append({"key": "initTime", "value": init_ms})
    return Activation.ended(namespace=namespace, name="a", version="0.0.1", subject=namespace,
                            activation_id=new_activation_id(), start=1000, end=1000 + duration_ms, status=status,
                            result={}, annotations=annotations)


# --- what the two share (app.core.metrics) ------------------------------------------------------------------


def test_start_kinds() -> None:
    assert start_kind(True, from_prewarm=False) == WARM
    assert start_kind(True, from_prewarm=True) == WARM  # a stem cell already initialized for the action
    assert start_kind(False, from_prewarm=False) == COLD
    assert start_kind(False, from_prewarm=True) == PREWARM


def test_the_times_a_record_holds_in_seconds() -> None:
    assert wait_seconds(record(wait_ms=250)) == 0.25
    assert init_seconds(record(init_ms=1500)) == 1.5
    assert init_seconds(record()) is None
    assert wait_seconds(record(wait_ms=None)) is None


@pytest.mark.parametrize(("header", "token", "matches"), [
    ("Bearer s3cret-token-0123456789", "s3cret-token-0123456789", True),
    ("bearer s3cret-token-0123456789", "s3cret-token-0123456789", True),  # the scheme is case-insensitive
    ("Bearer s3cret-token-012345678", "s3cret-token-0123456789", False),
    ("Basic s3cret-token-0123456789", "s3cret-token-0123456789", False),
    ("s3cret-token-0123456789", "s3cret-token-0123456789", False),
    (None, "s3cret-token-0123456789", False),
    ("Bearer ", "", False),  # no token set: nobody, not even an empty bearer
    ("Bearer \udc80", "s3cret-token-0123456789", False),  # a header that is not text does not crash the check
])
def test_only_the_token_as_a_bearer_token_matches(header: str | None, token: str, matches: bool) -> None:
    assert bearer_matches(header, token) is matches


# --- the counts an activation leaves --------------------------------------------------------------------------


def test_a_finished_activation_is_counted_by_namespace_kind_and_status_with_its_times() -> None:
    metrics = InvokerMetrics()
    metrics.finished(record(duration_ms=40, wait_ms=12, init_ms=300))
    metrics.finished(record(Status.APPLICATION_ERROR, duration_ms=2, wait_ms=3))
    metrics.finished(record(Status.WHISK_ERROR, kind=None, wait_ms=None, namespace="bob"))
    found = scrape(metrics.registry)
    alice = (("kind", "python:3"), ("namespace", "alice"))
    assert found["squall_activations_total"] == {
        (*alice[:1], alice[1], ("status", "success")): 1,
        (*alice[:1], alice[1], ("status", "application_error")): 1,
        (("kind", "unknown"), ("namespace", "bob"), ("status", "whisk_error")): 1,
    }
    assert found["squall_activation_duration_seconds_count"][alice] == 2
    assert found["squall_activation_duration_seconds_sum"][alice] == pytest.approx(0.042)
    assert found["squall_activation_wait_seconds_count"][alice] == 2
    assert found["squall_activation_wait_seconds_sum"][alice] == pytest.approx(0.015)
    assert found["squall_activation_init_seconds_count"] == {alice: 1}
    assert found["squall_activation_init_seconds_bucket"][(("kind", "python:3"), ("le", "0.25"),
                                                           ("namespace", "alice"))] == 0
    assert found["squall_activation_init_seconds_bucket"][(("kind", "python:3"), ("le", "0.5"),
                                                           ("namespace", "alice"))] == 1


class Invoked:
    """A real invoker and pool; the containers are fakes whose port is a small server playing the proxy."""

    def __init__(self, proxy: Proxy, prewarmed: int = 0) -> None:
        settings = Settings()
        self.entities = DictEntityStore()
        self.activations = DictActivationStore()
        action = Action(EntityPath("guest", "hello"), Exec("python:3", code="def main(a): return a"),
                        ActionLimits(60000, 256, 0, 1), rev="1-abc")
        self.entities.docs[action.path.doc_id] = action.to_doc()
        stem = ContainerSpec(image="squall/action-python-v3", memory_mb=256, namespace="", action="",
                             kind="python:3", stem_cell=True)
        self.pool = ContainerPool(ProxiedFactory(proxy), settings.invoker,
                                  stem_cells=[StemCellSpec(stem, prewarmed)] if prewarmed else ())
        self.metrics = InvokerMetrics(name="invoker0", pool_stats=self.pool.stats)
        self.invoker = Invoker(self.entities, self.activations, self.pool, MANIFEST, settings, MemoryJournal(),
                               metrics=self.metrics)
        self.runner = ActivationRunner(self.invoker, follow_ups=None, metrics=self.metrics)  # type: ignore[arg-type]

    def run(self, action: str = "guest/hello") -> Activation:
        message = ActivationMessage(activation_id=new_activation_id(), transaction_id="t", namespace="guest",
                                    subject="guest", action=action, revision="1-abc", content={"n": 1},
                                    blocking=True, received_ms=now_ms())
        return self.runner.run(message, lambda _doc: None)


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    server = Proxy()
    yield server
    server.close()


def test_cold_then_warm_starts_and_the_activations_of_a_real_invoker(proxy: Proxy) -> None:
    world = Invoked(proxy)
    try:
        for _ in range(3):
            assert world.run().status == Status.SUCCESS
        missing = world.run("guest/gone")  # no such action: a record, but no container and no start
        assert missing.status == Status.APPLICATION_ERROR
        found = scrape(world.metrics.registry)
        labels = (("kind", "python:3"), ("namespace", "guest"))
        assert found["squall_activation_starts_total"] == {(*labels, ("start", "cold")): 1,
                                                          (*labels, ("start", "warm")): 2}
        assert found["squall_activations_total"] == {
            (*labels, ("status", "success")): 3,
            (("kind", "unknown"), ("namespace", "guest"), ("status", "application_error")): 1}
        assert found["squall_activation_init_seconds_count"] == {labels: 1}
        assert found["squall_activation_wait_seconds_count"] == {labels: 3}
        # Read at the scrape: the action's container, idle again, holding its memory.
        containers = found["squall_pool_containers"]
        assert containers[(("invoker", "invoker0"), ("state", "idle"))] == 1
        assert containers[(("invoker", "invoker0"), ("state", "busy"))] == 0
        assert found["squall_pool_memory_used_bytes"] == {(("invoker", "invoker0"),): 256 * 1_048_576}
        assert found["squall_pool_memory_capacity_bytes"] == {(("invoker", "invoker0"),): 4096 * 1_048_576}
    finally:
        world.invoker.close()


def test_a_stem_cell_taken_is_a_prewarm_start(proxy: Proxy) -> None:
    world = Invoked(proxy, prewarmed=1)
    try:
        assert world.pool.wait_prewarmed(10.0)
        assert scrape(world.metrics.registry)["squall_pool_containers"][
            (("invoker", "invoker0"), ("state", "prewarm"))] == 1
        world.run()
        starts = scrape(world.metrics.registry)["squall_activation_starts_total"]
        assert starts == {(("kind", "python:3"), ("namespace", "guest"), ("start", "prewarm")): 1}
    finally:
        world.invoker.close()


def test_a_dead_letter_is_counted() -> None:
    metrics = InvokerMetrics()
    metrics.dead_letter()
    assert scrape(metrics.registry)["squall_dead_letters_total"] == {(): 1}


# --- read at the scrape: the record writer and the broker queue ------------------------------------------------


class Gated:
    """A bulk store that holds each request until let go, and may be down or refuse records."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.entered = threading.Event()
        self.down = False
        self.refuse: set[str] = set()

    def put_activations(self, docs: list[dict[str, Any]]) -> list[str | None]:
        self.entered.set()
        self.go.wait(10)
        if self.down:
            raise StoreError("store down")
        return ["refused: NaN" if doc["_id"] in self.refuse else None for doc in docs]


def test_records_waiting_to_be_stored_and_the_store_errors_are_read_at_the_scrape() -> None:
    store = Gated()
    writer = RecordWriter(store, retry_pauses_s=(0.0,), linger_s=0.0)
    metrics = InvokerMetrics(name="invoker0", records=writer)
    try:
        done: list[BaseException | None] = []

        def store_one(doc_id: str) -> None:
            try:
                writer.store({"_id": doc_id, "namespace": "guest", "name": "a", "activationId": doc_id[-32:],
                              "start": 1, "response": {"statusCode": 0, "result": {}}})
                done.append(None)
            except BaseException as e:  # the test reads what each caller got
                done.append(e)

        threads = [threading.Thread(target=store_one, args=(f"guest/{n:032x}",)) for n in range(3)]
        for thread in threads:
            thread.start()
        assert store.entered.wait(10)
        found = scrape(metrics.registry)
        assert found["squall_records_pending"] == {(("invoker", "invoker0"),): 3}
        store.down = True
        store.go.set()
        for thread in threads:
            thread.join(10)
        assert len(done) == 3 and all(isinstance(e, RecordNotStored) for e in done)  # back to each caller
        found = scrape(metrics.registry)
        assert found["squall_records_pending"] == {(("invoker", "invoker0"),): 0}
        errors = found["squall_record_store_errors_total"]
        assert errors[(("invoker", "invoker0"), ("reason", "unavailable"))] == 6  # 3 records, 2 attempts each
        assert errors[(("invoker", "invoker0"), ("reason", "refused"))] == 0
    finally:
        store.go.set()
        writer.close()


def test_the_queue_depth_is_read_at_the_scrape_and_left_out_when_it_cannot_be() -> None:
    depth: list[int | Exception | None] = [7]

    def read() -> int | None:
        value = depth[0]
        if isinstance(value, Exception):
            raise value
        return value

    metrics = InvokerMetrics(name="invoker0", queue_depth=read)
    assert scrape(metrics.registry)["squall_invoker_queue_messages"] == {(("invoker", "invoker0"),): 7}
    depth[0] = ConnectionRefusedError("broker away")
    assert "squall_invoker_queue_messages" not in scrape(metrics.registry)  # the scrape itself still answers
    depth[0] = None  # no such queue
    assert "squall_invoker_queue_messages" not in scrape(metrics.registry)


@pytest.mark.parametrize("with_pool", [True, False])
def test_a_queue_watched_after_the_start_is_read_at_the_scrape(with_pool: bool) -> None:
    metrics = InvokerMetrics(name="solo", pool_stats=(lambda: {}) if with_pool else None)
    assert "squall_invoker_queue_messages" not in scrape(metrics.registry)
    metrics.watch_queue(lambda: 3)
    assert scrape(metrics.registry)["squall_invoker_queue_messages"] == {(("invoker", "solo"),): 3}


def test_registering_reads_nothing() -> None:
    def unreachable() -> int | None:
        raise AssertionError("read at registration")

    InvokerMetrics(CollectorRegistry(), name="invoker0", queue_depth=unreachable)


# --- the invoker's /metrics --------------------------------------------------------------------------------


def test_the_invoker_serves_its_metrics_to_bearers_of_the_token_only() -> None:
    token = "invoker-metrics-token-1234"
    metrics = InvokerMetrics()
    metrics.finished(record())
    server = MetricsServer(metrics.registry, "127.0.0.1", 0, token)
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        for headers in ({}, {"Authorization": "Bearer not-the-token-of-this-invoker"},
                        {"Authorization": f"Basic {token}"}):
            refused = httpx.get(url, headers=headers, timeout=5)
            assert refused.status_code == 401
            assert refused.headers["WWW-Authenticate"].startswith("Bearer ")
            body = refused.json()
            assert body["error"] == UNAUTHORIZED and len(body["code"]) == 32
        served = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert served.status_code == 200
        families = {f.name: f for f in text_string_to_metric_families(served.text)}
        assert families["squall_activations"].samples[0].value == 1
    finally:
        server.stop()


def test_the_metrics_server_stops_cleanly_right_after_answering(monkeypatch: pytest.MonkeyPatch) -> None:
    # stop() used to close the sockets from the caller's thread while the server's loop polled them: now and
    # then the loop's thread died of EBADF (a warning, so a failed test here), and stop() waited for its poll.
    failures: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: failures.append(args.exc_value))
    metrics = InvokerMetrics()
    for _ in range(40):
        server = MetricsServer(metrics.registry, "127.0.0.1", 0, "a-token-of-sixteen")
        server.start()
        port = server.port
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 401
        server.stop()
        assert not [t for t in threading.enumerate() if t.name == "squall-metrics"]  # its loop ended
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert failures == []


# --- settings and the controller's directory -----------------------------------------------------------------


def test_metrics_settings() -> None:
    s = load_settings(environ={"SQUALL_METRICS_TOKEN": "t" * 16, "SQUALL_METRICS_INVOKER_PORT": "9101"})
    assert (s.metrics.token, s.metrics.invoker_port, s.metrics.invoker_host) == ("t" * 16, 9101, "127.0.0.1")
    assert "t" * 16 not in repr(s)
    assert load_settings(environ={}).metrics.token == ""  # off unless set
    with pytest.raises(SettingsError, match="at least 16"):
        load_settings(environ={"SQUALL_METRICS_TOKEN": "short"})
    with pytest.raises(SettingsError, match="needs metrics.token"):
        load_settings(environ={"SQUALL_METRICS_INVOKER_PORT": "9101"})


def test_the_gunicorn_hooks_forget_a_dead_worker_s_live_gauges_and_remove_the_directory(tmp_path: Path) -> None:
    from app.controller.server import ControllerServer, metrics_hooks

    directory = tmp_path / "metrics"
    directory.mkdir()
    for name in ("counter_41.db", "gauge_livesum_41.db", "gauge_livesum_42.db"):
        (directory / name).write_bytes(b"")
    hooks = metrics_hooks(str(directory))

    class Worker:
        pid = 41

    hooks["child_exit"](None, Worker())
    assert sorted(p.name for p in directory.iterdir()) == ["counter_41.db", "gauge_livesum_42.db"]  # counts stay
    hooks["on_exit"](None)
    assert not directory.exists()
    server = ControllerServer(load_settings(environ={}), metrics_dir=str(directory))
    assert "metrics_hooks" in server.cfg.child_exit.__qualname__  # not gunicorn's own (empty) hooks
    assert "metrics_hooks" in server.cfg.on_exit.__qualname__
    assert "metrics_hooks" not in ControllerServer(load_settings(environ={})).cfg.on_exit.__qualname__
