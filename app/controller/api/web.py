"""``/api/v1/web/{namespace}/{package|default}/{action}[.ext][/extra/path]``: web actions, for anyone (the
action decides: ``require-whisk-auth``). No ``authenticate`` hook: a key, when sent, only tells the action who
calls (``__ow_user``). The rules live in ``app.core.web`` and ``app.core.services.web``."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from app.controller.context import services, transaction_id
from app.core.web import WebRequest, extra_path

bp = Blueprint("web", __name__, url_prefix="/api/v1/web")

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
# Headers the server sets from the body it sends; OpenWhisk's action never sees them either.
_UNSEEN = frozenset({"content-length"})


@bp.route("/<namespace>/<path:target>", methods=METHODS)
def web_action(namespace: str, target: str) -> Response:
    """The action's answer (any status, type and headers it chooses), ``x-openwhisk-activation-id`` once run;
    202 still running past the controller's blocking wait; 400 a forbidden parameter, a malformed JSON body
    or a result the extension cannot carry; 401 ``require-whisk-auth`` not met; 404 no such web action;
    413 body over the payload limit; 429 the owner's throttles; 503 no invoker."""
    auth = request.authorization
    authorization = (auth.username, auth.password or "") if auth and auth.type == "basic" and auth.username \
        else None
    web_request = WebRequest(
        method=request.method,
        headers={k.lower(): v for k, v in request.headers.items() if k.lower() not in _UNSEEN},
        path=extra_path(target), query=request.query_string.decode("utf-8", "replace"),
        body=request.get_data(cache=False))
    answer = services().web.handle(namespace, target, web_request, transaction_id=transaction_id(),
                                   authorization=authorization)
    g.cors_decided = True  # the answer carries the web action's CORS headers, or none (web-custom-options)
    response = Response(answer.body, status=answer.status, headers=answer.headers)
    if answer.header("Content-Type") is None:
        del response.headers["Content-Type"]  # an empty answer has no type (Flask would say text/html)
    return response
