"""The controller's metrics and ``GET /metrics``, in Prometheus' text format (the ``prometheus_client`` library).

What the controller counts: the activations it accepted (by namespace and kind) and the requests it answered
429 (by throttle and namespace). Under gunicorn each worker process counts in files of the controller's own
directory (the library's multiprocess mode, set up by ``app.controller.server``), and a scrape of any worker
sums every worker's; elsewhere (standalone, tests) the counts live in a registry of this process, which
standalone shares with its in-process invoker. Only bearers of ``metrics.token`` may read them: they name
namespaces. docs/production.md ("Metrics") lists every metric.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from app.controller import errors
from app.controller.context import services
from app.core.errors import Throttled
from app.core.metrics import bearer_matches

__all__ = ["ControllerMetrics", "init_metrics", "throttled_by"]

OFF = ("Metrics are not served: set metrics.token (SQUALL_METRICS_TOKEN), then scrape with "
       "Authorization: Bearer <token>.")
UNAUTHORIZED = "The metrics need the metrics token: Authorization: Bearer <metrics.token>."

bp = Blueprint("metrics", __name__)


class ControllerMetrics:
    """Counts in ``registry`` (a new one if None); with ``multiprocess_dir``, a scrape reads every process' counts
    there instead (gunicorn's workers)."""

    def __init__(self, registry: CollectorRegistry | None = None, multiprocess_dir: str | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._multiprocess_dir = multiprocess_dir
        self._accepted = Counter("squall_activations_accepted", "Activations the controller accepted and handed "
                                 "to an invoker (or a composition), by the invoking namespace and the action's kind",
                                 ["namespace", "kind"], registry=self.registry)
        self._throttled = Counter("squall_throttled_requests", "Requests answered 429, by throttle (invocations, "
                                  "fires, api_route, auth_failures, logins, ...) and the namespace throttled "
                                  "(empty when the throttle is not a namespace's)", ["reason", "namespace"],
                                  registry=self.registry)

    def accepted(self, namespace: str, kind: str) -> None:
        self._accepted.labels(namespace, kind).inc()

    def throttled(self, reason: str, namespace: str) -> None:
        self._throttled.labels(reason, namespace).inc()

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The metrics in the format ``accept`` asks for (Prometheus' text format, or OpenMetrics)."""
        registry = self.registry
        if self._multiprocess_dir is not None:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type


def _metrics() -> ControllerMetrics:
    found: ControllerMetrics = current_app.extensions["squall_metrics"]
    return found


def throttled_by(reason: str, namespace: str = "") -> None:
    """Say which throttle a 429 answered here comes from (one not raised as ``Throttled``)."""
    g.throttled = (reason, namespace)


@bp.get("/metrics")
def metrics() -> Response:
    """200 the metrics; 401 without the metrics token as a bearer token; 403 when no token is set (off)."""
    token = services().settings.metrics.token
    if not token:
        return errors.envelope(OFF, 403)
    if not bearer_matches(request.headers.get("Authorization"), token):
        response = errors.envelope(UNAUTHORIZED, 401)
        response.headers["WWW-Authenticate"] = 'Bearer realm="squall metrics"'
        return response
    body, content_type = _metrics().exposition(request.headers.get("Accept"))
    return Response(body, content_type=content_type)


def _throttled(error: Throttled) -> Response:
    throttled_by(error.reason, error.namespace)
    return errors.platform_error(error)


def _count_throttled(response: Response) -> Response:
    # Every 429, whoever answered it: a throttle that says nothing of itself is counted as "other".
    if response.status_code == 429:
        reason, namespace = g.get("throttled", ("other", ""))
        _metrics().throttled(reason, namespace)
    return response


def init_metrics(app: Flask, metrics: ControllerMetrics) -> None:
    app.extensions["squall_metrics"] = metrics
    app.register_blueprint(bp)
    app.register_error_handler(Throttled, _throttled)
    app.after_request(_count_throttled)
