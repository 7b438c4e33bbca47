"""``/api/{namespace}/{basePath}{relativePath}``: the built-in API gateway, serving the APIs ``createApi`` stored
(``gwApiUrl``), as OpenWhisk's separate gateway (``openwhisk-apigateway``) does: the request goes, with its verb,
headers, query and body, to the operation's web action; an ``.http`` operation gets the request's path (base path
and path parameters' values included) as ``__ow_path``; Squall also hands the path parameters to the action as
parameters (``/books/{isbn}`` → ``isbn``). ``v1`` is never a namespace here: ``/api/v1/...`` stays the platform's.

Per route, beyond OpenWhisk: a rate limit (429 with ``Retry-After``) and CORS (preflights answered here, without
invoking) read from the API's ``x-squall`` settings (``app.core.apis``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import BaseConverter

from app.controller.context import services, transaction_id
from app.controller.errors import envelope
from app.controller.metrics import throttled_by
from app.core.apis import Cors, Match, Operation, RateLimited
from app.core.errors import NotFound
from app.core.web import WebRequest

bp = Blueprint("gateway", __name__)

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
_UNSEEN = frozenset({"content-length"})  # as the web action route: the action never sees it
NO_ACTION = "The API names no action for this operation."


class TenantConverter(BaseConverter):
    """A namespace in the gateway's URL: one path segment, never ``v1`` (so every ``/api/v1/...`` route, and its
    404 and 405 answers, stay the platform API's)."""

    regex = r"(?!v1$)[^/]+"
    part_isolating = True


def _converters(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.setdefault("tenant", TenantConverter)


bp.record_once(_converters)  # before the rules below are added


def _preflight_cors(found: Match) -> Cors | None:
    """The CORS settings an ``OPTIONS`` for this path answers with, when the API answers preflights itself."""
    settings = [op.cors for op in found.operations.values() if op.cors is not None]
    return settings[0] if settings and settings[0].enabled else None


def _with_cors(response: Response, cors: Cors | None) -> Response:
    """The route's CORS headers in place of the action's (none when the route sets no CORS of its own)."""
    if cors is None:
        return response
    g.cors_decided = True  # the platform's default CORS headers must not come back (``context._decorate``)
    own = cors.response_headers(request.headers.get("Origin"), request.headers.get("Access-Control-Request-Headers"))
    if not own:  # CORS off, or an origin the route does not allow: no CORS header at all
        for name in {k for k, _ in response.headers.items() if k.lower().startswith("access-control-")}:
            del response.headers[name]
        return response
    vary = own.pop("Vary", None)
    for name, value in own.items():  # the route's in place of the action's; the action's others stay
        response.headers[name] = value
    if vary:
        response.vary.add(vary)
    return response


def _forward(found: Match, operation: Operation, path: str) -> Response:
    target = operation.target
    if target is None:
        raise NotFound(NO_ACTION)
    extra = path if target.response_type == "http" else ""
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower() not in _UNSEEN}
    headers.update({k.lower(): v for k, v in operation.headers})
    headers["x-forwarded-url"] = request.url  # as OpenWhisk's gateway tells the action where the request came
    auth = request.authorization
    authorization = (auth.username, auth.password or "") if auth and auth.type == "basic" and auth.username \
        else None
    web_request = WebRequest(method=request.method, headers=headers, path=extra,
                             query=request.query_string.decode("utf-8", "replace"),
                             body=request.get_data(cache=False))
    answer = services().web.handle(target.namespace, target.web_target() + extra, web_request,
                                   transaction_id=transaction_id(), authorization=authorization,
                                   extra_params=dict(found.parameters) or None)
    response = Response(answer.body, status=answer.status, headers=answer.headers)
    if answer.header("Content-Type") is None:
        del response.headers["Content-Type"]
    return response


@bp.route("/api/<tenant:namespace>/", methods=METHODS, defaults={"rest": ""}, strict_slashes=False)
@bp.route("/api/<tenant:namespace>/<path:rest>", methods=METHODS)
def serve(namespace: str, rest: str) -> Any:
    """The web action's answer (any status, headers and body), with the route's CORS headers; 200 a preflight
    the route's CORS answers; 404 no API, path or action; 405 the path has no such verb (``Allow`` lists those it
    has); 429 the route's rate limit (``Retry-After``), or the action owner's throttles; else as the web action."""
    path = "/" + rest
    found = services().apis.resolve(namespace, path)
    operation = found.operations.get(request.method.lower())
    if operation is None and request.method == "HEAD":
        operation = found.operations.get("get")
    if operation is None:
        cors = _preflight_cors(found)
        if request.method == "OPTIONS" and cors is not None:
            return _with_cors(Response(status=200), cors)
        response = envelope(f"The path has no {request.method} operation.", 405)
        response.headers["Allow"] = ", ".join(found.allowed())
        return response
    try:
        services().apis.admit(found, operation)
    except RateLimited as e:
        throttled_by(e.reason, e.namespace)
        return _with_cors(envelope(e.message, 429, e.retry_after_s), operation.cors)
    return _with_cors(_forward(found, operation, path), operation.cors)
