"""Reading query parameters and JSON bodies with OpenWhisk's validation messages."""

from __future__ import annotations

from typing import Any

from flask import request

from app.core import strict_json
from app.core.errors import Invalid, PayloadTooLarge

DEFAULT_LIMIT = 30
MAX_LIMIT = 200


def flag(name: str, default: bool = False) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return default
    return raw.strip().lower() == "true"


def paging(collection: str) -> tuple[int, int]:
    """``(skip, limit)``; ``limit=0`` means the maximum, as ``wsk list`` expects."""
    limit = _integer("limit", collection, DEFAULT_LIMIT)
    if not 0 <= limit <= MAX_LIMIT:
        raise Invalid(f"The value '{limit}' is not in the range of 0 to {MAX_LIMIT} for {collection}.")
    skip = _integer("skip", collection, 0)
    if skip < 0:
        raise Invalid(f"The value '{skip}' is not a non-negative integer for {collection}.")
    return skip, limit or MAX_LIMIT


def _integer(name: str, collection: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise Invalid(f"The value '{raw}' is not an integer for {collection}.") from None


def epoch_ms(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise Invalid(f"Parameter is not a valid value for epoch seconds: {raw}") from None


def json_body(max_bytes: int | None = None) -> Any:
    """The decoded JSON body; an empty body is ``{}``. Oversized → 413, malformed or not strict JSON → 400
    (``app.core.strict_json``: no NaN or Infinity, no lone surrogate, at most ``MAX_DEPTH`` levels deep).

    The body is read even when too large (the app's MAX_CONTENT_LENGTH bounds it): answering before the
    client finished sending makes gunicorn drop the connection instead of delivering the 413.
    """
    data = request.get_data(cache=False)
    if max_bytes is not None and len(data) > max_bytes:
        raise PayloadTooLarge(len(data), max_bytes)
    if not data.strip():
        return {}
    try:
        return strict_json.loads(data)
    except ValueError as e:  # not JSON, not UTF-8, not strict, or an integer past Python's 4,300 digits
        raise Invalid(f"The request content was malformed:\n{e}") from e
