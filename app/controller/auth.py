"""HTTP Basic ``uuid:key`` authentication, applied once per blueprint (never repeated in views)."""

from __future__ import annotations

from flask import g, request

from app.controller.context import services
from app.core.errors import Unauthorized

MISSING = "The resource requires authentication, which was not supplied with the request"


def authenticate() -> None:
    """``before_request`` hook: sets ``g.identity`` and ``g.api_key`` or raises ``Unauthorized``."""
    if request.method == "OPTIONS":
        return
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        raise Unauthorized(MISSING)
    g.identity = services().identities.authenticate(auth.username, auth.password or "")
    g.api_key = f"{auth.username}:{auth.password}"
