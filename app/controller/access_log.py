"""One line per request: method, path, status, duration, who asked and the activation it made, with the
transaction id; and the transaction id on every other line written while the request is handled.

This is the controller's only access log (gunicorn's is off: ``app.controller.server``). It never holds what a
tenant sent or got: no query string (a web action's arguments, a ``blocking`` caller's ``result``), no header,
no body; the path names the entity, as OpenWhisk's own request lines do.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from app.log_format import fields, reset_transaction, set_transaction

log = logging.getLogger(__name__)

ACTIVATION_HEADER = "x-openwhisk-activation-id"
"""Set on the answer by each route that made an activation (invoke, fire, web action): read back for the line."""


def _started() -> None:
    g.access_start = time.perf_counter()
    g.access_token = set_transaction(g.get("tid"))


def _line(response: Response) -> Response:
    start: float | None = g.get("access_start")
    duration_ms = round((time.perf_counter() - start) * 1000, 1) if start is not None else None
    identity = g.get("identity")
    log.info("%s %s %d %s ms", request.method, request.path, response.status_code, duration_ms, extra=fields(
        tid=g.get("tid"), method=request.method, path=request.path, status=response.status_code,
        duration_ms=duration_ms,
        namespace=identity.namespace if identity is not None else None,
        subject=identity.subject if identity is not None else None,
        activation_id=response.headers.get(ACTIVATION_HEADER)))
    return response


def _ended(_error: BaseException | None) -> None:
    token = g.pop("access_token", None)
    if token is not None:
        reset_transaction(token)


def init_app(app: Flask) -> None:
    """Register after ``context.init_app`` (the transaction id is assigned first) and before the blueprints (whose
    hooks may answer early, e.g. a 401)."""
    app.before_request(_started)
    app.after_request(_line)
    app.teardown_request(_ended)
