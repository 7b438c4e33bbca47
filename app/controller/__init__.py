"""The controller: a Flask app serving OpenWhisk's REST API. ``create_app`` is its composition root."""

from __future__ import annotations

from flask import Flask

from app.admin import init_admin
from app.controller import context, errors
from app.controller.api import actions, activations, meta, namespaces
from app.controller.context import Services
from app.controller.dispatch import CeleryDispatcher
from app.controller.invokers import CeleryInvokerMonitor
from app.core.limits import LimitPolicy
from app.core.manifest import RuntimeManifest
from app.core.ports import Dispatcher, InvokerMonitor
from app.core.services import ActionService, ActivationService, IdentityService, InvocationService
from app.core.services.actions import SizeLimits
from app.store.couchdb import CouchStore
from config import Settings, load_settings
from tasks.celery_app import make_celery


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


def build_services(settings: Settings, store: CouchStore, dispatcher: Dispatcher,
                   invokers: InvokerMonitor) -> Services:
    manifest = RuntimeManifest.load(settings.runtimes.manifest_path)
    sizes = SizeLimits(settings.limits.exec_bytes, settings.limits.parameters_bytes)
    return Services(
        settings=settings,
        manifest=manifest,
        identities=IdentityService(store, settings.controller.identity_cache_seconds),
        actions=ActionService(store, manifest, limit_policy(settings), sizes),
        invocations=InvocationService(store, dispatcher, manifest, settings.controller.blocking_timeout_ms),
        activations=ActivationService(store, dispatcher),
        invokers=invokers,
    )


def create_app(settings: Settings | None = None) -> Flask:
    """Build the controller app: stores, dispatcher, services, blueprints, error handlers."""
    settings = settings or load_settings()
    store = CouchStore(settings.couchdb)
    store.setup()
    celery = make_celery(settings)
    dispatcher = CeleryDispatcher(celery, settings.invoker.queues)

    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]
    # Hard cap on any body (OpenWhisk's HTTP limit is 50 MB); finer limits per endpoint answer 413 themselves.
    app.config["MAX_CONTENT_LENGTH"] = 2 * settings.limits.exec_bytes + settings.limits.payload_bytes
    app.extensions["squall_store"] = store  # whoever ends the app (a test) closes it
    app.extensions["squall"] = build_services(settings, store, dispatcher,
                                              CeleryInvokerMonitor(celery, settings.invoker.queues))
    context.init_app(app)
    errors.register_error_handlers(app)
    for module in (meta, namespaces, actions, activations):
        app.register_blueprint(module.bp)
    init_admin(app, settings, app.extensions["squall"])
    return app
