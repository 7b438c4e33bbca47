"""``/api/v1/web/whisk.system/apimgmt/{createApi,getApi,deleteApi}[.http|.json]``: OpenWhisk's route management
web actions (``core/routemgmt``) as native routes with their wire, which ``wsk api create/get/list/delete`` (``.http``)
and the npm client's ``routes`` (no extension) call. The caller's key decides the namespace (``__ow_user``); the
``accesstoken`` and ``spaceguid`` wsk and the npm client send are for OpenWhisk's external gateway and are ignored.

Squall's route settings for the one-route form, in the query or the body: ``ratelimit`` (requests per minute) and
``cors`` (``true``, ``false`` or a comma-separated list of allowed origins); a swagger document carries them in
``x-squall`` objects instead (``app.core.apis``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from app.controller.api import params
from app.controller.auth import authenticate
from app.controller.context import identity, services
from app.core.apis import Api, parse_cors
from app.core.errors import Invalid

bp = Blueprint("apimgmt", __name__, url_prefix="/api/v1/web/whisk.system/apimgmt")
bp.before_request(authenticate)

_EXTENSIONS = ("", ".http", ".json")


View = Callable[[], Response]


def _routes(operation: str, method: str) -> Callable[[View], View]:
    """Register ``view`` at ``/<operation>``, ``.http`` and ``.json`` (wsk adds ``.http``, the npm client none)."""
    def register(view: View) -> View:
        for ext in _EXTENSIONS:
            bp.add_url_rule(f"/{operation}{ext}", f"{view.__name__}{ext.replace('.', '_')}", view,
                            methods=[method])
        return view
    return register


def _listed(api: Api) -> dict[str, Any]:
    host = services().apis.api_host
    return {"id": f"API:{api.namespace}:{api.base_path}", "key": f"{api.namespace}:{api.base_path}",
            "value": api.to_cli(host)}


def _given(body: dict[str, Any], name: str) -> Any:
    """A parameter as a web action gets it: from the query, or from the body (the body wins)."""
    return body.get(name, request.args.get(name))


def _extension(body: dict[str, Any]) -> dict[str, Any]:
    """Squall's ``x-squall`` for the one route being created, from ``ratelimit`` and ``cors``."""
    out: dict[str, Any] = {}
    rate = _given(body, "ratelimit")
    if rate is not None and rate != "":
        try:
            out["rateLimit"] = int(rate)
        except (TypeError, ValueError):
            raise Invalid(f"ratelimit must be a whole number of requests per minute, not {rate!r}") from None
        if isinstance(rate, bool) or out["rateLimit"] < 1:
            raise Invalid(f"ratelimit must be a whole number of requests per minute of at least 1, not {rate!r}")
    cors = _given(body, "cors")
    if cors is not None and cors != "":
        if isinstance(cors, str) and cors.lower() in ("true", "false"):
            cors = cors.lower() == "true"
        elif isinstance(cors, str):
            cors = {"origins": cors}
        parse_cors(cors, "cors")  # refuse a bad value now, with this name
        out["cors"] = cors
    return out


@_routes("createApi", "POST")
def create_api() -> Response:
    """200 the API as wsk's ``RetApi`` (``namespace``, ``gwApiUrl``, ``apidoc``...); 400 an invalid apidoc or
    swagger (OpenWhisk's messages); 401 no valid key."""
    body = params.json_body(services().settings.limits.payload_bytes)
    if not isinstance(body, dict):
        raise Invalid("apidoc is required.")
    api = services().apis.create(identity(), body.get("apidoc"), _given(body, "responsetype"), _extension(body))
    return jsonify(api.to_cli(services().apis.api_host))


@_routes("getApi", "GET")
def get_api() -> Response:
    """200 ``{"apis": [{"id", "key", "value": RetApi}]}``: every API of the caller's namespace, or the one named by
    ``basepath`` (a base path, or an API name); ``limit`` and ``skip`` page (``limit=0``: all). 401 no valid key."""
    skip, limit = params.paging("apis")
    if request.args.get("limit") in (None, "", "0"):
        limit = 0
    apis = services().apis.get(identity(), request.args.get("basepath") or None, skip, limit)
    return jsonify({"apis": [_listed(api) for api in apis]})


@_routes("deleteApi", "DELETE")
def delete_api() -> Response:
    """200 ``{}``: the API at ``basepath`` (or named so) is gone, or just its ``relpath`` (or the ``operation`` of
    it). 400 no ``basepath``, or an ``operation`` without ``relpath``; 404 no such API, path or operation."""
    args = request.args
    services().apis.delete(identity(), args.get("basepath", ""), args.get("relpath") or None,
                           args.get("operation") or None)
    return jsonify({})
