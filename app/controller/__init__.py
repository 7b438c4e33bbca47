"""The controller: a Flask app serving OpenWhisk's REST API. ``create_app`` is its composition root."""

from __future__ import annotations

from flask import Flask

from app.admin import init_admin
from app.controller import context, errors
from app.controller.api import actions, activations, alarms, meta, namespaces, packages, rules, triggers
from app.controller.context import Services
from app.controller.invokers import CeleryInvokerMonitor
from app.core.limits import LimitPolicy
from app.core.manifest import RuntimeManifest
from app.core.namespace_limits import NamespaceLimits
from app.core.ports import CompositionStarter, Dispatcher, EntityStore, InvokerMonitor, RateCounter
from app.core.services import ActionService, ActivationService, IdentityService, InvocationService
from app.core.services.actions import SizeLimits
from app.core.services.alarms import AlarmService
from app.core.services.limits import LimitsService
from app.core.services.logins import LoginThrottle
from app.core.services.packages import PackageService
from app.core.services.rules import RuleService
from app.core.services.triggers import TriggerService
from app.core.throttle import MemoryCounters
from app.store import Store, open_store
from app.store.cached import CachedEntityStore
from app.store.couchdb import CouchStore
from app.store.counters import RedisCounters
from app.store.revisions import RedisRevisions
from config import Settings, load_settings
from tasks.celery_app import make_celery
from tasks.dispatch import CeleryDispatcher


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


def rate_counter(settings: Settings) -> RateCounter:
    """Throttle counts shared through Redis when the result backend is Redis, else kept in this process."""
    if settings.broker.result_backend.startswith(("redis://", "rediss://")):
        return RedisCounters(settings.broker.result_backend)
    return MemoryCounters()


def entity_store(settings: Settings, store: Store) -> EntityStore:
    """The store's entities behind a revision-checked cache when Redis is there to hold the revisions.
    Only CouchDB is worth it: an embedded store answers from the same process."""
    seconds = settings.controller.entity_cache_seconds
    backend = settings.broker.result_backend
    if seconds <= 0 or not backend.startswith(("redis://", "rediss://")) or not isinstance(store, CouchStore):
        return store
    # Keyed by database, so deployments sharing one Redis never read each other's revisions.
    return CachedEntityStore(store, RedisRevisions(backend, seconds, prefix=f"squall:rev:{store.whisks_db}:"))


def build_actions_and_packages(settings: Settings, store: Store) -> tuple[ActionService, PackageService]:
    """The services that write entities, for callers outside a request (the catalog installer); writes go
    through the entity cache's revision index so controllers see them at once."""
    entities = entity_store(settings, store)
    manifest = RuntimeManifest.load(settings.runtimes.manifest_path)
    sizes = SizeLimits(settings.limits.exec_bytes, settings.limits.parameters_bytes)
    actions = ActionService(entities, manifest, limit_policy(settings), sizes, settings.limits.sequence_max_length)
    return actions, PackageService(entities)


def build_services(settings: Settings, store: Store, dispatcher: Dispatcher, invokers: InvokerMonitor,
                   compositions: CompositionStarter | None = None, counter: RateCounter | None = None) -> Services:
    entities = entity_store(settings, store)
    manifest = RuntimeManifest.load(settings.runtimes.manifest_path)
    sizes = SizeLimits(settings.limits.exec_bytes, settings.limits.parameters_bytes)
    counter = counter or rate_counter(settings)
    limits = LimitsService(store, NamespaceLimits(settings.limits.invocations_per_minute,
                                                  settings.limits.fires_per_minute),
                           settings.controller.identity_cache_seconds)
    invocations = InvocationService(
        entities, dispatcher, manifest, settings.controller.blocking_timeout_ms, compositions, counter=counter,
        invocations_allowed=lambda namespace: limits.of(namespace).invocations_per_minute)
    return Services(
        settings=settings,
        manifest=manifest,
        identities=IdentityService(store, settings.controller.identity_cache_seconds),
        actions=ActionService(entities, manifest, limit_policy(settings), sizes,
                              settings.limits.sequence_max_length),
        invocations=invocations,
        activations=ActivationService(store, dispatcher),
        packages=PackageService(entities),
        triggers=TriggerService(entities, store, invocations, counter,
                                lambda namespace: limits.of(namespace).fires_per_minute),
        limits=limits,
        logins=LoginThrottle(counter, settings.admin.login_attempts_per_minute),
        rules=RuleService(entities),
        alarms=AlarmService(entities, store),
        invokers=invokers,
    )


def create_app(settings: Settings | None = None, *, store: Store | None = None,
               dispatcher: Dispatcher | None = None, invokers: InvokerMonitor | None = None,
               counter: RateCounter | None = None) -> Flask:
    """Build the controller app: stores, dispatcher, services, blueprints, error handlers, admin pages.

    ``store``, ``dispatcher``, ``invokers`` and the throttles' ``counter`` default to the configured store,
    Celery and Redis; standalone mode passes its own.
    """
    settings = settings or load_settings()
    store = open_store(settings) if store is None else store
    if dispatcher is None or invokers is None:
        celery = make_celery(settings)
        dispatcher = CeleryDispatcher(celery, settings.invoker.queues) if dispatcher is None else dispatcher
        invokers = CeleryInvokerMonitor(celery, settings.invoker.queues) if invokers is None else invokers

    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]
    # Hard cap on any body (OpenWhisk's HTTP limit is 50 MB); finer limits per endpoint answer 413 themselves.
    app.config["MAX_CONTENT_LENGTH"] = 2 * settings.limits.exec_bytes + settings.limits.payload_bytes
    app.extensions["squall_store"] = store  # whoever ends the app (a test) closes it
    app.extensions["squall"] = build_services(settings, store, dispatcher, invokers, dispatcher, counter)
    context.init_app(app)
    errors.register_error_handlers(app)
    for module in (meta, namespaces, actions, activations, packages, triggers, rules, alarms):
        app.register_blueprint(module.bp)
    init_admin(app, settings, app.extensions["squall"])
    return app
