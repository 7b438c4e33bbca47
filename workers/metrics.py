"""An invoker's metrics, in Prometheus' text format (the ``prometheus_client`` library).

Two kinds. Counted as they happen, each a labelled increment or observation of a few µs and nothing more:
activations by namespace, kind and status, their duration, wait and init times, and how they started (cold,
prewarm, warm). Read when Prometheus scrapes, so the hot path pays nothing for them: the pool's containers by
state and its memory, the records waiting to be stored and the store's errors, and the depth of this invoker's
queue in the broker (a passive queue declare). What each metric means: docs/production.md ("Metrics").

``squall invoker`` serves them on ``metrics.invoker_port`` to bearers of ``metrics.token`` (``MetricsServer``);
``squall standalone`` serves them with its controller's own ``/metrics``.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import waitress.server
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from waitress import wasyncore

from app.core.entities import Activation, annotation
from app.core.metrics import bearer_matches, init_seconds, status_label, wait_seconds

__all__ = ["InvokerMetrics", "MetricsServer", "broker_queue_depth", "process_registry"]

log = logging.getLogger(__name__)

DURATION_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""From a warm no-op (a few ms) to the longest action timeout (300 s)."""
WAIT_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""A warm container's wait is a few ms (broker hop, pool); a cold start's or a full run buffer's, seconds."""
INIT_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""``/init`` takes tens of ms for a small action, seconds for a large zip or a slow runtime."""
MB = 1_048_576


def process_registry() -> CollectorRegistry:
    """A registry with the process' own CPU, memory, file descriptor and garbage collector metrics in it, for a
    process that serves its metrics. The library's ``_created`` series (when each labelled series began, one
    more series each) are turned off for the whole process: Prometheus notices a counter's reset by itself."""
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class RecordBacklog(Protocol):
    """``workers.records.RecordWriter`` as the metrics read it."""

    def pending(self) -> int: ...

    def errors(self) -> dict[str, int]: ...


class _Series:
    """A labelled metric's children by label values, kept here: ``labels()`` checks its arguments at every call,
    which cost more than the increment itself. (Two threads may both ask the library for a new child at once: it
    hands both the same one.)"""

    def __init__(self, metric: Counter | Histogram) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


class InvokerMetrics:
    """Counts what the invoker does, in ``registry``; with ``pool_stats``, ``records`` or ``queue_depth`` it also
    reads those at each scrape under the label ``invoker=name``."""

    def __init__(self, registry: CollectorRegistry | None = None, *, name: str = "",
                 pool_stats: Callable[[], dict[str, int]] | None = None, records: RecordBacklog | None = None,
                 queue_depth: Callable[[], int | None] | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        by_kind = ("namespace", "kind")
        self._activations = Counter("squall_activations", "Activations this invoker ran to a record, by status",
                                    [*by_kind, "status"], registry=self.registry)
        self._starts = Counter("squall_activation_starts", "Activations that reached a container, by how it "
                               "started: cold (a new container), prewarm (a stem cell) or warm (no /init)",
                               [*by_kind, "start"], registry=self.registry)
        self._duration = Histogram("squall_activation_duration_seconds", "The record's duration (initTime "
                                   "included)", by_kind, buckets=DURATION_BUCKETS_S, registry=self.registry)
        self._wait = Histogram("squall_activation_wait_seconds", "The record's waitTime: from the controller's "
                               "receipt to a container ready for it", by_kind, buckets=WAIT_BUCKETS_S,
                               registry=self.registry)
        self._init = Histogram("squall_activation_init_seconds", "The record's initTime, of cold and prewarm "
                               "starts", by_kind, buckets=INIT_BUCKETS_S, registry=self.registry)
        self._dead_letters = Counter("squall_dead_letters", "Activation records not stored as they were "
                                     "(refused by the store, or still not stored after the retries)",
                                     registry=self.registry)
        self._activations_of, self._starts_of, self._duration_of, self._wait_of, self._init_of = (
            _Series(self._activations), _Series(self._starts), _Series(self._duration), _Series(self._wait),
            _Series(self._init))
        self._name = name
        self._scrape: _ScrapeTime | None = None
        if pool_stats is not None or records is not None or queue_depth is not None:
            self._scrape = _ScrapeTime(name, pool_stats, records, queue_depth)
            self.registry.register(self._scrape)

    def watch_queue(self, depth: Callable[[], int | None]) -> None:
        """Read ``depth`` as this invoker's queue at each scrape from now on: for an invoker whose queue is made
        after it (standalone's in-process dispatcher: its accepted activations not started yet)."""
        if self._scrape is None:
            self._scrape = _ScrapeTime(self._name, None, None, depth)
            self.registry.register(self._scrape)
        else:
            self._scrape.watch_queue(depth)

    def started(self, namespace: str, kind: str, start: str) -> None:
        """An activation reached its container (``app.core.metrics.start_kind``)."""
        self._starts_of(namespace, kind, start).inc()

    def finished(self, activation: Activation) -> None:
        """An activation's record is final (stored, kept for later, or replaced by a stand-in)."""
        namespace = activation.namespace
        kind = str(annotation(activation.annotations, "kind") or "unknown")  # an action that could not be read
        self._activations_of(namespace, kind, status_label(activation.status)).inc()
        self._duration_of(namespace, kind).observe(activation.duration / 1000)
        wait = wait_seconds(activation)
        if wait is not None:
            self._wait_of(namespace, kind).observe(wait)
        init = init_seconds(activation)
        if init is not None:
            self._init_of(namespace, kind).observe(init)

    def dead_letter(self) -> None:
        self._dead_letters.inc()


POOL_STATES = {"free": "idle", "busy": "busy", "starting": "starting", "prewarm": "prewarm"}
"""``ContainerPool.stats`` slot counts → the ``state`` label: idle (an action's warm container, free), busy (an
activation runs in it), starting (being created), prewarm (a stem cell waiting for its kind)."""


class _ScrapeTime:
    """A collector that reads the pool, the record writer and the broker queue when Prometheus scrapes."""

    def __init__(self, name: str, pool_stats: Callable[[], dict[str, int]] | None, records: RecordBacklog | None,
                 queue_depth: Callable[[], int | None] | None) -> None:
        self._name = name
        self._pool_stats = pool_stats
        self._records = records
        self._queue_depth = queue_depth

    def watch_queue(self, depth: Callable[[], int | None]) -> None:
        self._queue_depth = depth

    def describe(self) -> Iterable[Metric]:
        # Registering calls this rather than ``collect``: no broker round trip at start.
        return list(self._families(None, None, None))

    def collect(self) -> Iterable[Metric]:
        stats = self._pool_stats() if self._pool_stats is not None else None
        depth = None
        if self._queue_depth is not None:
            try:
                depth = self._queue_depth()
            except Exception:  # a scrape must not fail for the broker: the gauge is left out instead
                log.warning("the depth of queue %s could not be read", self._name, exc_info=True)
        return list(self._families(stats, self._records, depth))

    def _families(self, stats: dict[str, int] | None, records: RecordBacklog | None,
                  depth: int | None) -> Iterator[Metric]:
        invoker = [self._name]
        if self._pool_stats is not None:
            containers = GaugeMetricFamily("squall_pool_containers", "Containers in the pool, by state",
                                           labels=["invoker", "state"])
            paused = GaugeMetricFamily("squall_pool_containers_paused", "Idle containers paused (idle_policy "
                                       "pause)", labels=["invoker"])
            used = GaugeMetricFamily("squall_pool_memory_used_bytes", "Memory the pool's containers hold (their "
                                     "limits, starting ones included)", labels=["invoker"])
            capacity = GaugeMetricFamily("squall_pool_memory_capacity_bytes", "Memory the pool may give "
                                         "containers (invoker.user_memory_mb)", labels=["invoker"])
            waiting = GaugeMetricFamily("squall_pool_run_buffer", "Activations waiting in the run buffer for "
                                        "container memory", labels=["invoker"])
            reaped = CounterMetricFamily("squall_pool_containers_reaped", "Containers removed after idling "
                                         "invoker.idle_timeout_s", labels=["invoker"])
            if stats is not None:
                for key, state in POOL_STATES.items():
                    containers.add_metric([self._name, state], stats.get(key, 0))
                paused.add_metric(invoker, stats.get("paused", 0))
                used.add_metric(invoker, stats.get("used_mb", 0) * MB)
                capacity.add_metric(invoker, stats.get("capacity_mb", 0) * MB)
                waiting.add_metric(invoker, stats.get("waiting", 0))
                reaped.add_metric(invoker, stats.get("reaped", 0))
            yield from (containers, paused, used, capacity, waiting, reaped)
        if self._records is not None:
            pending = GaugeMetricFamily("squall_records_pending", "Activation records handed to the writer and "
                                        "not stored yet (queued, being written, or waiting for a retry)",
                                        labels=["invoker"])
            errors = CounterMetricFamily("squall_record_store_errors", "Activation records the store did not "
                                         "take at an attempt: unavailable (the store could not be asked) or "
                                         "refused (it refused the record)", labels=["invoker", "reason"])
            if records is not None:
                pending.add_metric(invoker, records.pending())
                for reason, count in sorted(records.errors().items()):
                    errors.add_metric([self._name, reason], count)
            yield from (pending, errors)
        if self._queue_depth is not None:
            queue = GaugeMetricFamily("squall_invoker_queue_messages", "Messages ready in this invoker's broker "
                                      "queue, not yet taken (a passive declare at each scrape); in standalone, "
                                      "activations accepted and not started yet", labels=["invoker"])
            if depth is not None:
                queue.add_metric(invoker, depth)
            yield queue


def broker_queue_depth(celery: Any, queue: str, timeout_s: float = 2.0) -> Callable[[], int | None]:
    """Reads the messages ready in ``queue`` with a passive declare on a connection of the Celery app's pool
    (its own channel: a missing queue closes only that). None when the queue does not exist."""

    def depth() -> int | None:
        with celery.pool.acquire(block=True, timeout=timeout_s) as connection:
            channel = connection.channel()
            try:
                declared = channel.queue_declare(queue=queue, passive=True)
            except connection.channel_errors:  # no such queue (yet); the broker closed the channel
                return None
            channel.close()
            return int(declared.message_count)

    return depth


# --- serving --------------------------------------------------------------------------------------------

UNAUTHORIZED = "The metrics need the metrics token: Authorization: Bearer <metrics.token>."

_WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def protected(app: _WsgiApp, token: str) -> _WsgiApp:
    """``app`` for bearers of ``token`` only; anyone else gets a 401 in the API's error envelope."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if bearer_matches(environ.get("HTTP_AUTHORIZATION"), token):
            return app(environ, start_response)
        body = json.dumps({"error": UNAUTHORIZED, "code": secrets.token_hex(16)}).encode()
        start_response("401 Unauthorized", [("Content-Type", "application/json"),
                                             ("Content-Length", str(len(body))),
                                             ("WWW-Authenticate", 'Bearer realm="squall metrics"')])
        return [body]

    return guarded


class MetricsServer:
    """``/metrics`` of ``registry`` over HTTP on ``host:port``, to bearers of ``token``, on a thread of its own."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int, token: str) -> None:
        self._server = waitress.server.create_server(protected(make_wsgi_app(registry), token), host=host,
                                                     port=port, threads=2, ident="squall-invoker")
        self._thread = threading.Thread(target=self._server.run, name="squall-metrics", daemon=True)

    @property
    def port(self) -> int:
        server: Any = self._server  # a single-socket server: it has one port
        return int(server.effective_port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        server: Any = self._server
        if not self._thread.is_alive():
            server.close()
            return
        # Requests being answered finish first (each wakes the loop when done), then the loop closes every channel
        # itself and ends: closing the sockets from this thread raced the loop's poll, which then failed on a
        # closed descriptor (EBADF) in the server's thread.
        server.task_dispatcher.shutdown(timeout=5)
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map, ignore_all=True))
        self._thread.join(timeout=5)
