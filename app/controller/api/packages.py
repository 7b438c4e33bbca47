"""``/api/v1/namespaces/{ns}/packages``: packages and bindings."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from app.controller.api import params
from app.controller.auth import authenticate
from app.controller.context import identity, services
from app.core.names import check_name
from app.core.requests import PackagePut, parse
from app.core.services.entitlement import resolve_namespace

bp = Blueprint("packages", __name__, url_prefix="/api/v1/namespaces/<namespace>/packages")
bp.before_request(authenticate)


def _ns(namespace: str) -> str:
    return check_name(resolve_namespace(identity(), namespace))


@bp.get("")
def list_packages(namespace: str) -> Response:
    """200 summaries newest first: all own packages, or another namespace's published non-bindings."""
    ns = _ns(namespace)
    skip, limit = params.paging("packages")
    if params.flag("count"):
        return jsonify({"packages": services().packages.count(identity(), ns)})
    return jsonify([p.to_summary() for p in services().packages.list(identity(), ns, skip, limit)])


@bp.get("/<name>")
def get_package(namespace: str, name: str) -> Response:
    """200 the package with ``actions`` and ``feeds``; 404 to its owner, 403 to others if private or missing."""
    return jsonify(services().packages.get(identity(), _ns(namespace), check_name(name)))


@bp.put("/<name>")
def put_package(namespace: str, name: str) -> Response:
    """200 the stored package; 409 exists without ``overwrite``; 400/409 bad binding; 400 reserved name."""
    body = parse(PackagePut, params.json_body(services().settings.limits.payload_bytes * 2))
    package = services().packages.put(identity(), _ns(namespace), name, body, params.flag("overwrite"))
    return jsonify(package.to_api())


@bp.delete("/<name>")
def delete_package(namespace: str, name: str) -> Response:
    """200 the deleted package; 409 still holds actions (unless ``force=true``); 404 missing."""
    package = services().packages.delete(identity(), _ns(namespace), check_name(name), params.flag("force"))
    return jsonify(package.to_api())
