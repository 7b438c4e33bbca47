"""``/api/v1/namespaces/{ns}/alarms/{trigger}``: the provider API the ``/whisk.system/alarms`` feed actions
call with the trigger owner's key (CREATE/UPDATE = PUT, READ = GET, DELETE, PAUSE/UNPAUSE = POST status)."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify

from app.controller.api import params
from app.controller.auth import authenticate
from app.controller.context import identity, services
from app.core.errors import Invalid
from app.core.names import check_name
from app.core.services.entitlement import resolve_namespace

bp = Blueprint("alarms", __name__, url_prefix="/api/v1/namespaces/<namespace>/alarms")
bp.before_request(authenticate)


def _ns(namespace: str) -> str:
    return check_name(resolve_namespace(identity(), namespace))


def _object() -> dict[str, object]:
    body = params.json_body(services().settings.limits.payload_bytes)
    if not isinstance(body, dict):
        raise Invalid("The request content was malformed:\nexpected a JSON object")
    return body


@bp.put("/<trigger>")
def put_alarm(namespace: str, trigger: str) -> Response:
    """200 the stored schedule's READ form; body ``{"kind": "alarm"|"interval"|"once", ...feed params}``.
    400 bad parameters; 404 no such trigger; 409 exists (without ``overwrite=true``)."""
    body = _object()
    s = services()
    ns = _ns(namespace)
    s.alarms.create(identity(), g.api_key, ns, trigger, str(body.get("kind", "")), body, params.flag("overwrite"))
    return jsonify(s.alarms.read(identity(), ns, trigger))


@bp.get("/<trigger>")
def get_alarm(namespace: str, trigger: str) -> Response:
    return jsonify(services().alarms.read(identity(), _ns(namespace), trigger))


@bp.delete("/<trigger>")
def delete_alarm(namespace: str, trigger: str) -> Response:
    """200 the schedule as it was last (its ``status.fired`` is final)."""
    return jsonify(services().alarms.delete(identity(), _ns(namespace), trigger))


@bp.post("/<trigger>")
def set_alarm_status(namespace: str, trigger: str) -> Response:
    """``{"status": "paused"|"active"}``; 400 another status."""
    services().alarms.set_status(identity(), _ns(namespace), trigger, _object().get("status"))
    return jsonify({"ok": True})
