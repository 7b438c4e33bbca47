"""Per-request plumbing: the transaction id, CORS headers, and reaching the services from a view."""

from __future__ import annotations

import secrets
import string

from flask import Flask, Response, current_app, g, request

from app.core.identities import Identity
from app.services import Services

_TID_ALPHABET = string.ascii_letters + string.digits
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, DELETE, POST, PUT, HEAD",
    "Access-Control-Allow-Headers": "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent",
}


def services() -> Services:
    found: Services = current_app.extensions["squall"]
    return found


def identity() -> Identity:
    found: Identity = g.identity
    return found


def transaction_id() -> str:
    found: str = g.tid
    return found


def _assign_transaction_id() -> None:
    # OpenWhisk honours a caller's X-Request-ID unless it looks like one of its own session ids.
    given = request.headers.get("X-Request-ID", "")
    if given and not given.startswith("sid_") and len(given) <= 128:
        g.tid = given
    else:
        g.tid = "".join(secrets.choice(_TID_ALPHABET) for _ in range(32))


def _decorate(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("tid", "")
    for key, value in _CORS.items():
        response.headers.setdefault(key, value)
    return response


def init_app(app: Flask) -> None:
    app.before_request(_assign_transaction_id)
    app.after_request(_decorate)
