"""``/api/v1/namespaces/{ns}/triggers``: create, read, update, delete, list and fire triggers."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from app.controller.api import params
from app.controller.auth import authenticate
from app.controller.context import identity, services, transaction_id
from app.core.errors import Invalid
from app.core.names import check_name
from app.core.requests import TriggerPut, parse
from app.core.services.entitlement import resolve_namespace

bp = Blueprint("triggers", __name__, url_prefix="/api/v1/namespaces/<namespace>/triggers")
bp.before_request(authenticate)


def _ns(namespace: str) -> str:
    return check_name(resolve_namespace(identity(), namespace))


@bp.get("")
def list_triggers(namespace: str) -> Response:
    """200 summaries newest first, or ``{"triggers": N}`` with ``count=true``."""
    ns = _ns(namespace)
    skip, limit = params.paging("triggers")
    if params.flag("count"):
        return jsonify({"triggers": services().triggers.count(identity(), ns)})
    return jsonify([t.to_summary() for t in services().triggers.list(identity(), ns, skip, limit)])


@bp.get("/<name>")
def get_trigger(namespace: str, name: str) -> Response:
    """200 the trigger with its rules' links; 404 missing; 403 another namespace."""
    return jsonify(services().triggers.get(identity(), _ns(namespace), name).to_api())


@bp.put("/<name>")
def put_trigger(namespace: str, name: str) -> Response:
    """200 the stored trigger; 409 exists without ``overwrite``; 400 ``Feed name is not valid``."""
    body = parse(TriggerPut, params.json_body(services().settings.limits.payload_bytes * 2))
    trigger = services().triggers.put(identity(), _ns(namespace), name, body, params.flag("overwrite"))
    return jsonify(trigger.to_api())


@bp.delete("/<name>")
def delete_trigger(namespace: str, name: str) -> Response:
    """200 the deleted trigger; its rules stay (inactive)."""
    return jsonify(services().triggers.delete(identity(), _ns(namespace), name).to_api())


@bp.post("/<name>")
def fire_trigger(namespace: str, name: str) -> Response:
    """202 ``{"activationId"}``; 204 no active rule (nothing stored); 404; 413 payload; 429 ``firesPerMinute``."""
    s = services()
    payload = params.json_body(s.settings.limits.payload_bytes)
    if not isinstance(payload, dict):
        raise Invalid("The request content was malformed:\nthe payload must be a JSON object")
    activation_id = s.triggers.fire(identity(), _ns(namespace), name, payload, dict(request.headers),
                                    transaction_id(), api_key=g.api_key)
    if activation_id is None:
        return Response(status=204)
    response = jsonify({"activationId": activation_id})
    response.status_code = 202
    response.headers["x-openwhisk-activation-id"] = activation_id
    return response
