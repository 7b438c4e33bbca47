"""``/api/v1/namespaces/{ns}/actions``: create, read, update, delete, list and invoke actions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from app.controller.api import params
from app.controller.auth import authenticate
from app.controller.context import identity, services, transaction_id
from app.core.entities import Activation
from app.core.errors import Invalid
from app.core.names import EntityPath, check_name
from app.core.requests import ActionPut, parse
from app.core.services.entitlement import resolve_namespace

bp = Blueprint("actions", __name__, url_prefix="/api/v1/namespaces/<namespace>/actions")
bp.before_request(authenticate)

TIMEOUT_MESSAGE = "Timeout must be number of milliseconds up to {max}."
# Blocking outcome → HTTP status, as OpenWhisk answers a blocking invoke: application and developer errors 502,
# whisk errors 500 (https://github.com/apache/openwhisk/blob/master/docs/rest_api.md#actions).
_STATUS_CODES = {"success": 200, "application error": 502, "action developer error": 502,
                 "whisk internal error": 500}


def _path(namespace: str, name: str) -> EntityPath:
    return EntityPath.from_url(resolve_namespace(identity(), namespace), name)


@bp.get("")
def list_actions(namespace: str) -> Response:
    """200 ``[ActionSummary]`` newest first, or ``{"actions": N}`` with ``count=true``. 400 bad paging."""
    ns = resolve_namespace(identity(), namespace)
    skip, limit = params.paging("actions")
    if params.flag("count"):
        return jsonify({"actions": services().actions.count(identity(), ns)})
    return jsonify([a.to_summary() for a in services().actions.list(identity(), ns, skip, limit)])


@bp.get("/<path:name>")
def get_action(namespace: str, name: str) -> Response:
    """200 Action (``code=false`` leaves the code out); 403 another namespace; 404 missing.

    ``pkg/`` (trailing slash) lists the actions of a package, or of the package a binding binds.
    """
    if name.endswith("/") and name.count("/") == 1:
        skip, limit = params.paging("actions")
        found = services().actions.list_in_package(identity(), resolve_namespace(identity(), namespace),
                                                   check_name(name[:-1]), skip, limit)
        return jsonify([a.to_summary() for a in found])
    include_code = params.flag("code", default=True)  # attached code is read only when it is asked for
    action = services().actions.get(identity(), _path(namespace, name), include_code=include_code)
    return jsonify(action.to_api(include_code=include_code))


@bp.put("/<path:name>")
def put_action(namespace: str, name: str) -> Response:
    """200 the stored Action; 409 exists without ``overwrite=true``; 400 bad exec/limits/name; 413 size."""
    limit = services().settings.limits.exec_bytes * 2  # base64 code plus the rest of the document
    body = parse(ActionPut, params.json_body(limit))
    action = services().actions.put(identity(), _path(namespace, name), body, params.flag("overwrite"))
    return jsonify(action.to_api())


@bp.delete("/<path:name>")
def delete_action(namespace: str, name: str) -> Response:
    """200 the deleted Action; 404 missing."""
    return jsonify(services().actions.delete(identity(), _path(namespace, name)).to_api())


@bp.post("/<path:name>")
def invoke_action(namespace: str, name: str) -> Response:
    """202 ``{"activationId"}`` (non-blocking, or blocking past its wait); 200/502/500 a finished activation.

    400 bad ``timeout`` or a forbidden parameter override; 413 payload over 1 MB; 404/403; 429 past the
    namespace's invocations per minute or concurrent invocations; 503 no invoker.
    """
    s = services()
    payload = params.json_body(s.settings.limits.payload_bytes)
    if not isinstance(payload, dict):
        raise Invalid("The request content was malformed:\nthe payload must be a JSON object")
    outcome = s.invocations.invoke(
        identity(), _path(namespace, name), payload, blocking=params.flag("blocking"),
        wait_ms=_wait_ms(s.invocations.max_wait_ms), transaction_id=transaction_id(), api_key=g.api_key)
    if outcome.activation is None:
        response = jsonify({"activationId": outcome.activation_id})
        response.status_code = 202
    else:
        response = _finished(outcome.activation, params.flag("result"))
    response.headers["x-openwhisk-activation-id"] = outcome.activation_id
    return response


def _wait_ms(maximum: int) -> int | None:
    raw = request.args.get("timeout")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 < value <= maximum:
        raise Invalid(TIMEOUT_MESSAGE.format(max=maximum))
    return value


def _finished(activation: Activation, result_only: bool) -> Response:
    result = activation.result
    if isinstance(result, list):
        body: Any = result  # an array result is returned bare, whatever was asked
    else:
        body = result if result_only else activation.to_api()
    response = jsonify(body)
    response.status_code = _STATUS_CODES.get(activation.status.label, 500)
    return response
