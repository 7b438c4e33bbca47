"""``/api/v1/namespaces/{ns}/rules``: rules, and enabling or disabling them."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from app.controller.api import params
from app.controller.auth import authenticate
from app.controller.context import identity, services
from app.core.errors import Invalid
from app.core.names import check_name
from app.core.requests import RulePut, parse
from app.core.rules import RuleStatus
from app.core.services.entitlement import resolve_namespace

bp = Blueprint("rules", __name__, url_prefix="/api/v1/namespaces/<namespace>/rules")
bp.before_request(authenticate)


def _ns(namespace: str) -> str:
    return check_name(resolve_namespace(identity(), namespace))


@bp.get("")
def list_rules(namespace: str) -> Response:
    """200 full rules without ``status`` (as OpenWhisk lists them), or ``{"rules": N}`` with ``count=true``."""
    ns = _ns(namespace)
    skip, limit = params.paging("rules")
    if params.flag("count"):
        return jsonify({"rules": services().rules.count(identity(), ns)})
    return jsonify([r.to_api() for r in services().rules.list(identity(), ns, skip, limit)])


@bp.get("/<name>")
def get_rule(namespace: str, name: str) -> Response:
    """200 the rule with its ``status`` (``inactive`` when its trigger is gone)."""
    rule, status = services().rules.get(identity(), _ns(namespace), name)
    return jsonify(rule.to_api(status))


@bp.put("/<name>")
def put_rule(namespace: str, name: str) -> Response:
    """200 the rule (``active`` on create); 400 missing trigger/action; 403 not readable; 409 exists."""
    body = parse(RulePut, params.json_body(services().settings.limits.payload_bytes))
    rule, status = services().rules.put(identity(), _ns(namespace), name, body, params.flag("overwrite"))
    return jsonify(rule.to_api(status))


@bp.post("/<name>")
def set_rule_status(namespace: str, name: str) -> Response:
    """200 ``OK``; 400 not a rule state; 404 rule or (to activate) its trigger missing."""
    body = params.json_body(services().settings.limits.payload_bytes)
    if not isinstance(body, dict):
        raise Invalid("The request content was malformed:\nexpected a JSON object")
    services().rules.set_status(identity(), _ns(namespace), name, body.get("status"))
    return Response("OK", status=200, mimetype="text/plain")


@bp.delete("/<name>")
def delete_rule(namespace: str, name: str) -> Response:
    """200 the deleted rule with status ``inactive``; works after its trigger was deleted."""
    return jsonify(services().rules.delete(identity(), _ns(namespace), name).to_api(RuleStatus.INACTIVE))
