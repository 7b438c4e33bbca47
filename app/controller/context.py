"""Per-request plumbing: the transaction id, the headers every answer carries, and reaching the services from a
view."""

from __future__ import annotations

import os
import re
import string

from flask import Flask, Response, current_app, g, request

from app.core.identities import Identity
from app.core.services.logins import AuthFailures, EndedSessions
from app.services import Services

_TID_ALPHABET = string.ascii_letters + string.digits
# A caller's X-Request-ID is echoed in a header, in every error's "code" and in the logs: only ids made of these
# characters and this long are taken (a UUID, a tracing id), anything else is replaced, never cleaned up and echoed.
_GIVEN_TID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, DELETE, POST, PUT, HEAD",
    "Access-Control-Allow-Headers": "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent",
}


def services() -> Services:
    found: Services = current_app.extensions["squall"]
    return found


def auth_failures() -> AuthFailures:
    found: AuthFailures = current_app.extensions["squall_auth_failures"]
    return found


def ended_sessions() -> EndedSessions:
    found: EndedSessions = current_app.extensions["squall_ended_sessions"]
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
    if _GIVEN_TID.fullmatch(given) and not given.startswith("sid_"):
        g.tid = given
    else:
        # One read of the system's random source, not 32 (``secrets.choice`` each): 28 µs less per request. Not a
        # secret, only unique: 32 characters of 62 keep close to 190 bits despite the small bias of ``% 62``.
        g.tid = "".join([_TID_ALPHABET[b % len(_TID_ALPHABET)] for b in os.urandom(32)])


def _decorate(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("tid", "")
    # No browser may guess a type other than the one declared: an action's result or an activation's logs
    # answered as JSON or text must never be sniffed into HTML or script.
    response.headers["X-Content-Type-Options"] = "nosniff"
    if not g.get("cors_decided"):  # a web action or API route that settles CORS itself (app/core/web.py)
        for key, value in _CORS.items():
            response.headers.setdefault(key, value)
    return response


def init_app(app: Flask) -> None:
    app.before_request(_assign_transaction_id)
    app.after_request(_decorate)
