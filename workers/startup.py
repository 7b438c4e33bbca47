"""The invoker process's startup (its composition root): builds the invoker and the steps around it, installs
them for the tasks, and runs the Celery worker."""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from celery import Celery
from celery.signals import worker_shutting_down
from celery.utils.nodenames import host_format
from prometheus_client import CollectorRegistry

from app.core.errors import PlatformError
from app.core.manifest import RuntimeManifest
from app.core.ports import InvokerRegistry, StartJournal
from app.core.services.placement import Placer
from app.host.firewall import Isolation, IsolationError, IsolationPlan, endpoints
from app.state import SharedState
from app.store import Store, open_store
from app.wiring import build_compositions, build_placer, invoker_registry, shared_state
from config import Settings
from tasks.base import SquallTask, WorkerContext
from tasks.celery_app import log_as_squall, make_celery
from tasks.dispatch import CeleryDispatcher, CeleryFollowUps
from workers.completion import ActivationRunner
from workers.factories import FACTORIES, resolve_factory
from workers.factories.base import ContainerFactory, ContainerSpec
from workers.handoff import HandOff
from workers.invoker import Invoker
from workers.membership import Announcer
from workers.metrics import InvokerMetrics, MetricsServer, broker_queue_depth, process_registry
from workers.pool import ContainerPool, StemCellSpec
from workers.records import RecordWriter

if TYPE_CHECKING:
    from workers.factories.docker import DockerContainerFactory

log = logging.getLogger(__name__)


def stem_cell_specs(manifest: RuntimeManifest) -> list[StemCellSpec]:
    """The manifest's ``stemCells``: per kind and memory, how many prewarmed containers to keep."""
    return [StemCellSpec(ContainerSpec(image=manifest.image(kind), memory_mb=cell.memory_mb, namespace="",
                                       action="", kind=kind, stem_cell=True,
                                       concurrent=manifest.supports_concurrency(kind)), cell.initial_count)
            for kind, cells in manifest.stem_cells().items() for cell in cells]


def isolation_for(settings: Settings, factory: DockerContainerFactory) -> Isolation:
    """The rules for this invoker's action network: the API host allowed (as the containers reach it), the services
    denied."""
    api_host, on_gateway = containers_api_host(settings)
    bridge = factory.bridge()  # first: connecting to the engine moves a loopback API host onto the gateway
    allowed = endpoints(factory.api_host if on_gateway else api_host)
    denied = [*endpoints(settings.couchdb.url), *endpoints(settings.broker.url),
              *endpoints(settings.broker.result_backend)]
    plan = IsolationPlan(settings.invoker.network, bridge, tuple(allowed), tuple(denied))
    return Isolation(plan)


def _host_only(host: str) -> bool:
    """Does ``host`` (an address or a name) name this host's loopback only?"""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name
        return host == "localhost"


def _container_itself(url: str) -> bool:
    """Is ``url``'s host one that inside a container means the container itself (loopback, or 0.0.0.0)?"""
    host = urlsplit(url).hostname or ""
    return _host_only(host) or host in ("0.0.0.0", "::")


def containers_api_host(settings: Settings) -> tuple[str, bool]:
    """``__OW_API_HOST`` for action containers: ``invoker.api_host``, else the controller's API host; and whether a
    Docker factory is to move it onto the action network's gateway, as standalone does: when it is the
    controller's and on loopback (or 0.0.0.0), which inside a container is the container itself (an
    ``invoker.api_host`` is taken as it is)."""
    if settings.invoker.api_host:
        return settings.invoker.api_host, False
    return settings.controller.api_host, _container_itself(settings.controller.api_host)


def _docker(settings: Settings) -> bool:
    return settings.invoker.factory in ("docker", FACTORIES["docker"])


def build_factory(settings: Settings) -> ContainerFactory:
    """The configured container factory, giving containers ``containers_api_host``. (The process factory needs no
    gateway: each of its containers reaches a loopback API host through a relay of its own.)"""
    factory_class = resolve_factory(settings.invoker.factory)
    api_host, on_gateway = containers_api_host(settings)
    kwargs = {"api_host_on_gateway": True} if on_gateway and _docker(settings) else {}
    factory: ContainerFactory = factory_class(settings.invoker, api_host, **kwargs)
    return factory


def _say_api_host(settings: Settings, factory: ContainerFactory) -> None:
    """Log where actions call the API (``__OW_API_HOST``), and what to set when they cannot reach it there."""
    api_host, on_gateway = containers_api_host(settings)
    if not (on_gateway and _docker(settings)):
        log.info("actions call the API at %s (__OW_API_HOST)", api_host)
        return
    from workers.factories.docker import DockerContainerFactory

    seen = factory.api_host if isinstance(factory, DockerContainerFactory) else api_host
    if seen == api_host:
        log.warning("actions call the API at %s (__OW_API_HOST), which in a container is the container itself: "
                    "Docker did not answer, so the action network's gateway, which is to replace that host, is not "
                    "known yet; or set SQUALL_INVOKER_API_HOST to an address containers reach", api_host)
        return
    log.info("actions call the API at %s (__OW_API_HOST): the gateway of the action network %s, as %s is the "
             "container itself in a container", seen, settings.invoker.network, api_host)
    if _host_only(settings.controller.host):
        log.warning("a controller with these settings listens on %s only (controller.host), where actions cannot "
                    "reach it: start it with SQUALL_CONTROLLER_HOST=%s (or 0.0.0.0), or set SQUALL_INVOKER_API_HOST "
                    "to an address where actions reach the API", settings.controller.host, urlsplit(seen).hostname)


def build_invoker(settings: Settings, *, store: Store | None = None, journal: StartJournal | None = None,
                  state: SharedState | None = None, metrics_registry: CollectorRegistry | None = None,
                  queue_depth: Callable[[], int | None] | None = None) -> Invoker:
    """Store, manifest, container factory (leftover containers removed), pool and journal, wired together.
    ``store`` and ``journal`` default to the configured ones; standalone mode passes its own. Its metrics go to
    ``metrics_registry`` (else one nobody serves), with the depth of its broker queue when ``queue_depth`` reads
    it."""
    store = open_store(settings) if store is None else store
    factory = build_factory(settings)
    try:
        factory.cleanup()
    except PlatformError as e:  # Docker down: keep serving, each activation records the failure
        log.warning("could not remove leftover containers: %s", e)
    _say_api_host(settings, factory)
    if settings.invoker.isolate:  # asked for: an invoker that cannot isolate its actions does not start
        from workers.factories.docker import DockerContainerFactory

        if not isinstance(factory, DockerContainerFactory):
            raise IsolationError(f"invoker.isolate needs the docker factory, not {settings.invoker.factory!r}")
        isolation_for(settings, factory).install()
    manifest = RuntimeManifest.load(settings.runtimes.manifest_path)
    pool = ContainerPool(factory, settings.invoker, stem_cells=stem_cell_specs(manifest))
    journal = journal if journal is not None else (state or shared_state(settings)).journal()
    records = RecordWriter(store, linger_s=settings.invoker.record_linger_ms / 1000)
    metrics = InvokerMetrics(metrics_registry, name=settings.invoker.name, pool_stats=pool.stats, records=records,
                             queue_depth=queue_depth)
    return Invoker(store, store, pool, manifest, settings, journal, records=records, metrics=metrics)


def build_context(settings: Settings, celery: Celery, state: SharedState, placer: Placer | None,
                  registry: InvokerRegistry | None, metrics_registry: CollectorRegistry | None = None) -> WorkerContext:
    """What an invoker's tasks call: the invoker (leftover containers removed) with its follow-ups as tasks on its
    own queue, and the composition service, all over one store. Its metrics go to ``metrics_registry``."""
    store = open_store(settings)
    try:
        invoker = build_invoker(settings, store=store, state=state, metrics_registry=metrics_registry,
                                queue_depth=broker_queue_depth(celery, settings.invoker.name))
    except BaseException:
        store.close()
        raise
    # The one publisher, shared with the controller: composition steps place their components as it does.
    dispatcher = CeleryDispatcher(celery, settings.invoker.queues or (settings.invoker.name,), placer)
    return WorkerContext(
        runner=ActivationRunner(invoker, CeleryFollowUps(celery, settings.invoker.name), registry,
                                state.inflight() if state.shared else None, metrics=invoker.metrics),
        compositions=build_compositions(settings, store, store, dispatcher, dispatcher, state,
                                        finished=invoker.metrics.finished),
    )


def _metrics_server(settings: Settings, metrics_registry: CollectorRegistry) -> MetricsServer | None:
    """This invoker's ``/metrics`` on ``metrics.invoker_port`` (none when 0), started."""
    m = settings.metrics
    if not m.invoker_port:
        return None
    try:
        server = MetricsServer(metrics_registry, m.invoker_host, m.invoker_port, m.token)
    except OSError as e:  # the port is taken (another invoker on this host?): say which setting to change
        raise PlatformError(f"cannot serve metrics on {m.invoker_host}:{m.invoker_port} ({e}); give each invoker "
                            f"on a host its own SQUALL_METRICS_INVOKER_PORT") from e
    server.start()
    log.info("metrics on http://%s:%d/metrics (bearer token: metrics.token)", m.invoker_host, server.port)
    return server


PER_TASK_LOGGERS = ("celery.worker.strategy", "celery.app.trace", "httpx")
"""Loggers that write a line per task or per CouchDB request at INFO ("Task ... received", "... succeeded in",
"HTTP Request: POST ..."): formatting and writing them was about 5 % of an invoker's CPU under load."""


def quiet_per_task_logs(loglevel: str) -> None:
    """Keep the per-task lines for ``--loglevel DEBUG`` only; warnings and errors of those loggers still show."""
    if logging.getLevelName(loglevel.upper()) != logging.DEBUG:
        for name in PER_TASK_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def run_worker(settings: Settings, *, loglevel: str = "INFO") -> None:
    """Announce this invoker and consume its queue with a thread pool until told to stop; hand off the queues of
    invokers that departed. On SIGTERM it leaves the registry at once (no new work, its queue goes to the
    others), finishes what runs, then removes its containers."""
    # First: what building the invoker logs (where actions call the API) is seen, in the configured format.
    log_as_squall(settings, loglevel)
    quiet_per_task_logs(loglevel)
    app = make_celery(settings, worker=True)
    app.conf.worker_consumer = "workers.consumer:QuickReconnectConsumer"
    state = shared_state(settings)
    registry = invoker_registry(settings, state)
    placer = build_placer(settings, state)
    metrics_registry = process_registry()
    metrics = _metrics_server(settings, metrics_registry)  # first: a port that is taken stops the invoker at once
    context = build_context(settings, app, state, placer, registry, metrics_registry)
    SquallTask.install(context)
    name = settings.invoker.name
    runner = context.runner
    assert runner is not None
    announcer = Announcer(registry, runner.status, settings.invoker.heartbeat_s, settings.invoker.silent_after_s)
    handoff = HandOff(app, registry, placer, name, settings.invoker.heartbeat_s) if placer is not None else None

    def leave(**_: Any) -> None:
        announcer.stop(name)

    worker_shutting_down.connect(leave, weak=False)
    worker = app.Worker(
        # The pid in the node name: a restarted invoker starts while the old process still drains, and Celery's
        # control queue of a node name is exclusive to one connection (RESOURCE_LOCKED for the second).
        hostname=host_format(f"{name}.{os.getpid()}@%h"),  # the CLI expands %h; app.Worker does not
        queues=[name],
        pool="threads",
        concurrency=settings.invoker.threads,
        loglevel=loglevel,
        without_gossip=True,
        without_mingle=True,
        quiet=settings.log.format == "json",  # the start-up banner is text: in json mode every line is an object
    )
    announcer.start(name)
    if handoff is not None:
        handoff.start()
    log.info("invoker %s: queue %s, %d threads, %d MB for actions", name, name, settings.invoker.threads,
             settings.invoker.user_memory_mb)
    try:
        worker.start()
    finally:
        if handoff is not None:
            handoff.stop()
        if metrics is not None:
            metrics.stop()
        announcer.stop(name)
        worker_shutting_down.disconnect(leave)
        SquallTask.uninstall()
