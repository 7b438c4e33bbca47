"""``/api/v1/namespaces/{ns}/activations``: activation records, their results and logs."""

from __future__ import annotations

import re

from flask import Blueprint, Response, jsonify, request

from app.controller.api import params
from app.controller.auth import authenticate
from app.controller.context import identity, services
from app.core.errors import Invalid
from app.core.services.actions import check_skip
from app.core.services.entitlement import resolve_namespace

bp = Blueprint("activations", __name__, url_prefix="/api/v1/namespaces/<namespace>/activations")
bp.before_request(authenticate)

_NAME_FILTER = re.compile(r"\A[^/]+(/[^/]+)?\Z")
_EPOCH_MS_MAX = 2**53  # past any date a record has, and past what a JavaScript client can even send exactly


@bp.get("")
def list_activations(namespace: str) -> Response:
    """200 summaries newest first (``docs=true``: full records; ``count=true``: ``{"activations": N}``)."""
    ns = resolve_namespace(identity(), namespace)
    skip, limit = params.paging("activations")
    check_skip(skip, "activations")
    docs, count = params.flag("docs"), params.flag("count")
    if docs and count:
        raise Invalid("The parameter 'docs' is not permitted with 'count'.")
    name = request.args.get("name") or None
    if name is not None and not _NAME_FILTER.match(name):
        raise Invalid(f"Parameter may be a 'simple' name or 'package-name/simple' name: {name}")
    since, upto = _epoch_ms("since"), _epoch_ms("upto")
    service = services().activations
    if count:
        return jsonify({"activations": service.count(identity(), ns, name, since, upto)})
    found = service.list(identity(), ns, name, since, upto, skip, limit)
    return jsonify([a.to_api() if docs else a.to_summary() for a in found])


def _epoch_ms(name: str) -> int | None:
    """``params.epoch_ms`` within what a store can compare (a 64-bit integer), so a bound never reaches it as
    an overflow."""
    value = params.epoch_ms(name)
    if value is not None and not -_EPOCH_MS_MAX <= value <= _EPOCH_MS_MAX:
        raise Invalid(f"Parameter is not a valid value for epoch seconds: {value}")
    return value


@bp.get("/<activation_id>")
def get_activation(namespace: str, activation_id: str) -> Response:
    """200 the full record; 400 an id that is not 32 characters; 404 unknown here."""
    ns = resolve_namespace(identity(), namespace)
    return jsonify(services().activations.get(identity(), ns, activation_id).to_api())


@bp.get("/<activation_id>/result")
def get_result(namespace: str, activation_id: str) -> Response:
    ns = resolve_namespace(identity(), namespace)
    return jsonify(services().activations.get(identity(), ns, activation_id).response_api())


@bp.get("/<activation_id>/logs")
def get_logs(namespace: str, activation_id: str) -> Response:
    ns = resolve_namespace(identity(), namespace)
    return jsonify({"logs": services().activations.get(identity(), ns, activation_id).logs})
