"""The invoker process's startup (its composition root): builds the invoker and the steps around it, installs
them for the tasks, and runs the Celery worker."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from celery import Celery
from celery.signals import worker_shutting_down
from celery.utils.nodenames import host_format

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
from tasks.celery_app import make_celery
from tasks.dispatch import CeleryDispatcher, CeleryFollowUps
from workers.completion import ActivationRunner
from workers.factories import resolve_factory
from workers.factories.base import ContainerSpec
from workers.handoff import HandOff
from workers.invoker import Invoker
from workers.membership import Announcer
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
    """The rules for this invoker's action network: the API host allowed, the services denied."""
    api = endpoints(settings.invoker.api_host or settings.controller.api_host)
    denied = [*endpoints(settings.couchdb.url), *endpoints(settings.broker.url),
              *endpoints(settings.broker.result_backend)]
    plan = IsolationPlan(settings.invoker.network, factory.bridge(), tuple(api), tuple(denied))
    return Isolation(plan)


def build_invoker(settings: Settings, *, store: Store | None = None, journal: StartJournal | None = None,
                  state: SharedState | None = None) -> Invoker:
    """Store, manifest, container factory (leftover containers removed), pool and journal, wired together.
    ``store`` and ``journal`` default to the configured ones; standalone mode passes its own."""
    store = open_store(settings) if store is None else store
    factory_class = resolve_factory(settings.invoker.factory)
    factory = factory_class(settings.invoker, settings.invoker.api_host or settings.controller.api_host)
    try:
        factory.cleanup()
    except PlatformError as e:  # Docker down: keep serving, each activation records the failure
        log.warning("could not remove leftover containers: %s", e)
    if settings.invoker.isolate:  # asked for: an invoker that cannot isolate its actions does not start
        from workers.factories.docker import DockerContainerFactory

        if not isinstance(factory, DockerContainerFactory):
            raise IsolationError(f"invoker.isolate needs the docker factory, not {settings.invoker.factory!r}")
        isolation_for(settings, factory).install()
    manifest = RuntimeManifest.load(settings.runtimes.manifest_path)
    pool = ContainerPool(factory, settings.invoker, stem_cells=stem_cell_specs(manifest))
    journal = journal if journal is not None else (state or shared_state(settings)).journal()
    return Invoker(store, store, pool, manifest, settings, journal, records=RecordWriter(store))


def build_context(settings: Settings, celery: Celery, state: SharedState, placer: Placer | None,
                  registry: InvokerRegistry | None) -> WorkerContext:
    """What an invoker's tasks call: the invoker (leftover containers removed) with its follow-ups as tasks on its
    own queue, and the composition service, all over one store."""
    store = open_store(settings)
    try:
        invoker = build_invoker(settings, store=store, state=state)
    except BaseException:
        store.close()
        raise
    # The one publisher, shared with the controller: composition steps place their components as it does.
    dispatcher = CeleryDispatcher(celery, settings.invoker.queues or (settings.invoker.name,), placer)
    return WorkerContext(
        runner=ActivationRunner(invoker, CeleryFollowUps(celery, settings.invoker.name), registry),
        compositions=build_compositions(settings, store, store, dispatcher, dispatcher, state),
    )


def run_worker(settings: Settings, *, loglevel: str = "INFO") -> None:
    """Announce this invoker and consume its queue with a thread pool until told to stop; hand off the queues of
    invokers that departed. On SIGTERM it leaves the registry at once (no new work, its queue goes to the
    others), finishes what runs, then removes its containers."""
    app = make_celery(settings, worker=True)
    app.conf.worker_consumer = "workers.consumer:QuickReconnectConsumer"
    state = shared_state(settings)
    registry = invoker_registry(settings, state)
    placer = build_placer(settings, state)
    context = build_context(settings, app, state, placer, registry)
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
        hostname=host_format(f"{name}@%h"),  # the CLI expands %h; app.Worker does not
        queues=[name],
        pool="threads",
        concurrency=settings.invoker.threads,
        loglevel=loglevel,
        without_gossip=True,
        without_mingle=True,
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
        announcer.stop(name)
        worker_shutting_down.disconnect(leave)
        SquallTask.uninstall()
