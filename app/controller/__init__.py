"""The controller: a Flask app serving OpenWhisk's REST API and the admin pages. ``create_app`` is the web
process's composition root; the use cases come from ``app.wiring``."""

from __future__ import annotations

from flask import Flask
from prometheus_client import CollectorRegistry

from app.controller import access_log, context, errors
from app.controller.admin import init_admin
from app.controller.api import actions, activations, alarms, meta, namespaces, packages, rules, triggers, web
from app.controller.api.apimgmt import bp as apimgmt_bp
from app.controller.api.gateway import bp as gateway_bp
from app.controller.metrics import ControllerMetrics, init_metrics
from app.core.ports import Dispatcher, InFlight, InvokerMonitor, RateCounter
from app.core.services.logins import AuthFailures, EndedSessions
from app.state import SharedState
from app.store import Store, open_store
from app.wiring import build_placer, build_services, invoker_registry, shared_state
from config import Settings, load_settings
from tasks.celery_app import make_celery
from tasks.dispatch import CeleryDispatcher
from tasks.monitor import CeleryInvokerMonitor

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *, store: Store | None = None,
               dispatcher: Dispatcher | None = None, invokers: InvokerMonitor | None = None,
               counter: RateCounter | None = None, inflight: InFlight | None = None,
               metrics_registry: CollectorRegistry | None = None, metrics_dir: str | None = None) -> Flask:
    """Build the controller app: stores, dispatcher, services, blueprints, error handlers, admin pages.

    ``store``, ``dispatcher``, ``invokers``, the throttles' ``counter`` and the activations ``inflight`` default
    to the configured store, Celery and the shared state; standalone mode and the API tests pass their own. The
    metrics are counted in ``metrics_registry`` (standalone shares its invoker's), or a new one; with
    ``metrics_dir``, gunicorn's multiprocess directory, ``/metrics`` sums every worker's (``app.controller.metrics``).
    """
    settings = settings or load_settings()
    store = open_store(settings) if store is None else store
    state = shared_state(settings)
    # A caller that brings its own counter keeps its state in this process (standalone, tests): so do we.
    in_process = counter is not None
    counter = counter or state.counters()
    if inflight is None and not in_process:
        # Shared or not at all: invokers release what they ran into the shared state, so a count in this
        # process alone would only ever grow (concurrentInvocations needs a Redis result backend).
        inflight = state.inflight() if state.shared else None
    if dispatcher is None or invokers is None:
        celery = make_celery(settings)
        if dispatcher is None:
            dispatcher = CeleryDispatcher(celery, settings.invoker.queues or (settings.invoker.name,),
                                          build_placer(settings, state))
        if invokers is None:
            invokers = CeleryInvokerMonitor(celery, invoker_registry(settings, state), settings.invoker.queues)

    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]
    # Hard cap on any body (OpenWhisk's HTTP limit is 50 MB); finer limits per endpoint answer 413 themselves.
    app.config["MAX_CONTENT_LENGTH"] = 2 * settings.limits.exec_bytes + settings.limits.payload_bytes
    app.extensions["squall_store"] = store  # whoever ends the app (a test) closes it
    metrics = ControllerMetrics(metrics_registry, metrics_dir)
    services = build_services(settings, store, dispatcher, invokers, dispatcher, counter, state, inflight,
                              accepted=metrics.accepted)
    app.extensions["squall"] = services
    app.extensions["squall_auth_failures"] = AuthFailures(counter, settings.controller.auth_failures_per_minute)
    app.extensions["squall_ended_sessions"] = _ended_sessions(settings, None if in_process else state)
    context.init_app(app)
    access_log.init_app(app)
    errors.register_error_handlers(app)
    init_metrics(app, metrics)
    for module in (meta, namespaces, actions, activations, packages, triggers, rules, alarms, web):
        app.register_blueprint(module.bp)
    for blueprint in (apimgmt_bp, gateway_bp):  # the built-in API gateway
        app.register_blueprint(blueprint)
    init_admin(app, settings, services)
    return app


def _ended_sessions(settings: Settings, state: SharedState | None) -> EndedSessions:
    """Ended admin sessions, shared through Redis when the deployment shares its state there."""
    # As long as a cookie of the session could still be presented, and a little more for clocks apart.
    remember_s = int(settings.admin.session_hours * 3600) + 60
    prefix = f"squall:admin-ended:{settings.couchdb.prefix}:"  # deployments sharing one Redis stay apart
    shared = state.revisions(remember_s, prefix=prefix) if state is not None else None
    return EndedSessions(shared, remember_s)
