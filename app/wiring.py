"""The composition root shared by every process: from ``Settings`` to the store, the shared state and the use
cases. It imports no web framework, broker or container engine, so the CLI, the invoker, the scheduler and
standalone build services without loading Flask or Celery; each process adds its own transport around them
(``app.controller.create_app``, ``workers.startup``, ``app.scheduler.loop``, ``app.standalone.platform``).
"""

from __future__ import annotations

from collections.abc import Callable

from app.core.entities import Activation
from app.core.limits import LimitPolicy, NamespaceLimits
from app.core.manifest import RuntimeManifest
from app.core.ports import (
    ActivationStore,
    CompositionStarter,
    Dispatcher,
    EntityStore,
    InFlight,
    InvokerMonitor,
    InvokerRegistry,
    RateCounter,
    ResultSink,
)
from app.core.services import ActionService, ActivationService, IdentityService, InvocationService
from app.core.services.actions import SizeLimits
from app.core.services.alarms import AlarmService
from app.core.services.apis import ApiService
from app.core.services.compositions import CompositionService
from app.core.services.limits import LimitsService
from app.core.services.logins import LoginThrottle
from app.core.services.packages import PackageService
from app.core.services.placement import Membership, Placer
from app.core.services.rules import RuleService
from app.core.services.triggers import TriggerService
from app.core.services.web import WebActionService
from app.services import Services
from app.state import SharedState
from app.store import Store
from app.store.cached import CachedEntityStore
from app.store.couchdb import CouchStore
from config import Settings

__all__ = [
    "build_actions_and_packages",
    "build_compositions",
    "build_placer",
    "build_services",
    "entity_store",
    "invoker_registry",
    "limit_policy",
    "shared_state",
]


def shared_state(settings: Settings) -> SharedState:
    """Counters, revisions, journal and ledger: in Redis when the result backend is Redis, else per process."""
    return SharedState.for_backend(settings.broker.result_backend, settings.couchdb.prefix)


def limit_policy(settings: Settings) -> LimitPolicy:
    lim = settings.limits
    return LimitPolicy(
        min_timeout_ms=lim.min_timeout_ms, max_timeout_ms=lim.max_timeout_ms,
        default_timeout_ms=lim.default_timeout_ms, min_memory_mb=lim.min_memory_mb,
        max_memory_mb=lim.max_memory_mb, default_memory_mb=lim.default_memory_mb,
        min_logs_mb=lim.min_logs_mb, max_logs_mb=lim.max_logs_mb, default_logs_mb=lim.default_logs_mb,
        min_concurrency=lim.min_concurrency, max_concurrency=lim.max_concurrency,
        default_concurrency=lim.default_concurrency,
    )


def entity_store(settings: Settings, store: Store, state: SharedState | None = None) -> EntityStore:
    """The store's entities behind a revision-checked cache when the revision index is shared.
    Only CouchDB is worth it: an embedded store answers from the same process."""
    seconds = settings.controller.entity_cache_seconds
    if seconds <= 0 or not isinstance(store, CouchStore):
        return store
    # Keyed by database, so deployments sharing one Redis never read each other's revisions.
    revisions = (state or shared_state(settings)).revisions(seconds, prefix=f"squall:rev:{store.whisks_db}:")
    return store if revisions is None else CachedEntityStore(store, revisions,
                                                             stale_s=settings.couchdb.serve_stale_s)


def _actions(settings: Settings, entities: EntityStore, manifest: RuntimeManifest) -> ActionService:
    sizes = SizeLimits(settings.limits.exec_bytes, settings.limits.parameters_bytes,
                       settings.limits.code_inline_bytes)
    return ActionService(entities, manifest, limit_policy(settings), sizes, settings.limits.sequence_max_length)


def build_actions_and_packages(settings: Settings, store: Store) -> tuple[ActionService, PackageService]:
    """The services that write entities, for callers outside a request (the catalog installer); writes go
    through the entity cache's revision index so controllers see them at once."""
    entities = entity_store(settings, store)
    manifest = RuntimeManifest.load(settings.runtimes.manifest_path)
    return _actions(settings, entities, manifest), PackageService(entities, settings.limits.parameters_bytes)


def build_services(settings: Settings, store: Store, dispatcher: Dispatcher, invokers: InvokerMonitor,
                   compositions: CompositionStarter | None = None, counter: RateCounter | None = None,
                   state: SharedState | None = None, inflight: InFlight | None = None,
                   accepted: Callable[[str, str], None] | None = None) -> Services:
    """Every use case of a controller process over these ports. ``counter`` defaults to the shared state's;
    ``concurrentInvocations`` is enforced only with an ``inflight`` (the invokers must release into the same one);
    ``accepted`` is told (namespace, kind) of each activation accepted (the controller's metrics)."""
    state = state or shared_state(settings)
    entities = entity_store(settings, store, state)
    manifest = RuntimeManifest.load(settings.runtimes.manifest_path)
    counter = counter or state.counters()
    limits = LimitsService(store, NamespaceLimits(settings.limits.invocations_per_minute,
                                                  settings.limits.fires_per_minute,
                                                  settings.limits.concurrent_invocations,
                                                  activations_keep_days=settings.retention.keep_days),
                           settings.controller.identity_cache_seconds,
                           stale_seconds=settings.couchdb.serve_stale_s)
    invocations = InvocationService(
        entities, dispatcher, manifest, settings.controller.blocking_timeout_ms, compositions, counter=counter,
        invocations_allowed=lambda namespace: limits.of(namespace).invocations_per_minute,
        inflight=inflight, concurrent_allowed=lambda namespace: limits.of(namespace).concurrent_invocations,
        records_kept=lambda namespace: limits.of(namespace).store_activations, accepted=accepted)
    identities = IdentityService(store, settings.controller.identity_cache_seconds,
                                 stale_seconds=settings.couchdb.serve_stale_s)
    return Services(
        settings=settings,
        manifest=manifest,
        identities=identities,
        actions=_actions(settings, entities, manifest),
        invocations=invocations,
        activations=ActivationService(store, dispatcher, settings.controller.record_wait_s,
                                      lambda namespace: limits.of(namespace).store_activations),
        packages=PackageService(entities, settings.limits.parameters_bytes),
        triggers=TriggerService(entities, store, invocations, counter,
                                lambda namespace: limits.of(namespace).fires_per_minute,
                                parameters_bytes=settings.limits.parameters_bytes),
        limits=limits,
        logins=LoginThrottle(counter, settings.admin.login_attempts_per_minute),
        rules=RuleService(entities, settings.limits.parameters_bytes),
        alarms=AlarmService(entities, store),
        invokers=invokers,
        apis=ApiService(entities, counter, settings.controller.api_host),
        web=WebActionService(identities, invocations, entities, settings.limits.payload_bytes),
    )


def build_compositions(settings: Settings, entities: EntityStore, activations: ActivationStore,
                       dispatcher: Dispatcher, results: ResultSink,
                       state: SharedState | None = None, inflight: InFlight | None = None,
                       finished: Callable[[Activation], None] | None = None) -> CompositionService:
    """The service that carries sequences and conductor actions from step to step, wherever steps run; its
    components count in ``inflight`` (default: the shared state's, when shared), and ``finished`` is told each
    record it produces (an invoker's metrics)."""
    state = state or shared_state(settings)
    if inflight is None and state.shared:
        inflight = state.inflight()
    return CompositionService(entities, activations, dispatcher, results, settings.limits.sequence_max_length,
                              state.ledger(), inflight, finished)


def invoker_registry(settings: Settings, state: SharedState | None = None) -> InvokerRegistry:
    """The registry of this deployment's invokers (keyed by its database prefix, so deployments sharing one Redis
    never place work on each other's invokers)."""
    return (state or shared_state(settings)).registry(f"squall:cluster:{settings.couchdb.prefix}:")


def build_placer(settings: Settings, state: SharedState | None = None) -> Placer | None:
    """Placement over the live invokers, or None when the registry is not shared (no Redis): then activations
    go to a fixed home among ``invoker.queues`` (or this invoker's own queue)."""
    state = state or shared_state(settings)
    if not state.shared:
        return None
    return Placer(Membership(invoker_registry(settings, state), settings.invoker.queues,
                             grace_s=settings.invoker.silent_after_s))
