"""HTTP Basic ``uuid:key`` authentication, applied once per blueprint (never repeated in views)."""

from __future__ import annotations

from flask import g, request
from werkzeug.wrappers import Response

from app.controller.context import auth_failures, services
from app.controller.errors import envelope
from app.controller.metrics import throttled_by
from app.core.errors import Unauthorized

MISSING = "The resource requires authentication, which was not supplied with the request"
TOO_MANY_FAILURES = "Too many failed authentication attempts in the last minute; try again later."


def authenticate() -> Response | None:
    """``before_request`` hook: sets ``g.identity`` and ``g.api_key``, or raises ``Unauthorized``, or answers
    429 when the caller's address or uuid failed too often this minute (a correct key always passes)."""
    if request.method == "OPTIONS":
        return None
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        raise Unauthorized(MISSING)  # not a guess: nothing to count
    try:
        g.identity = services().identities.authenticate(auth.username, auth.password or "")
    except Unauthorized:
        retry_after_s = auth_failures().failed(request.remote_addr or "unknown", auth.username)
        if retry_after_s is None:
            raise
        # Answered here rather than raised: a 401 turned 429, with the seconds left in the failures' minute.
        throttled_by("auth_failures")
        return envelope(TOO_MANY_FAILURES, 429, retry_after_s)
    g.api_key = f"{auth.username}:{auth.password}"
    return None
