"""The one place errors become HTTP: ``{"error": <message>, "code": <transaction id>}`` with OpenWhisk's status.

A 503 or a 429 says when to try again (``Retry-After``) when the error knows. An outage is logged by whoever saw it
(the store client's ``Outage``), not once per answer here: a store that is down would fill the log.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify
from werkzeug.exceptions import HTTPException

from app.core import errors

log = logging.getLogger(__name__)

STATUS: dict[type[errors.PlatformError], int] = {
    errors.PayloadTooLarge: 413,
    errors.Invalid: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Throttled: 429,
    errors.Unavailable: 503,
}

_HTTP_MESSAGES = {
    404: "The requested resource does not exist.",
    405: "HTTP method not allowed, supported methods: {allowed}.",
    413: "The request content was too large.",
    415: "The request has an unsupported content type.",
}
INTERNAL = "There was an internal server error."


def envelope(message: str, status: int, retry_after_s: int | None = None) -> Response:
    response = jsonify({"error": message, "code": g.get("tid", "")})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="OpenWhisk secure realm"'
    if retry_after_s is not None:
        response.headers["Retry-After"] = str(retry_after_s)
    return response


def status_of(error: errors.PlatformError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def platform_error(error: errors.PlatformError) -> Response:
    """The answer to ``error`` (also for the handlers of its subclasses that note something first)."""
    status = status_of(error)
    if status == 500:
        log.error("internal error: %s", error, exc_info=error)
        return envelope(INTERNAL, 500)
    return envelope(error.message, status, retry_after_s(error))


def retry_after_s(error: errors.PlatformError) -> int | None:
    """The seconds an unavailable service or a throttle asks callers to wait, if it says."""
    return error.retry_after_s if isinstance(error, errors.Unavailable | errors.Throttled) else None


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    message = _HTTP_MESSAGES.get(status, error.description or INTERNAL)
    if status == 405:
        allowed = ", ".join(sorted(getattr(error, "valid_methods", None) or []))
        message = message.format(allowed=allowed)
    return envelope(message, status)


def _unexpected(error: Exception) -> Response:
    log.exception("unhandled error", exc_info=error)
    return envelope(INTERNAL, 500)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(errors.PlatformError, platform_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
