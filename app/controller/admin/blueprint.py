"""The admin blueprint and the checks every page shares, applied once here rather than in each view:
login, CSRF on every POST, operator-only pages, HTML error pages, no caching."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from app.controller.context import services
from app.controller.errors import status_of
from app.core import errors

bp = Blueprint("admin", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")

PUBLIC_ENDPOINTS = frozenset({"admin.login", "admin.static"})
CODE_ENDPOINTS = frozenset({"admin.new_action", "admin.save_action"})
"""Forms that post an action's code: a field as large as the REST API takes code (the app's request limit), not
Flask's 500 KB per form field."""
F = TypeVar("F", bound=Callable[..., Any])


@bp.before_request
def _guard() -> WerkzeugResponse | None:
    if request.method == "POST":
        if request.endpoint in CODE_ENDPOINTS:
            request.max_form_memory_size = request.max_content_length
        current_app.extensions["squall_csrf"].protect()  # raises CSRFError (400)
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    return redirect(url_for("admin.login", next=request.full_path if request.method == "GET" else None))


def operator_only(view: F) -> F:
    """403 for anyone but the operator."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_operator:
            abort(403)
        return view(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


@bp.after_request
def _no_store(response: Response) -> Response:
    if request.endpoint != "admin.static":
        response.headers["Cache-Control"] = "no-store"  # keys are shown once; pages are per user
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
    return response


def _page(message: str, status: int) -> tuple[str, int]:
    return render_template("admin/error.html", message=message, status=status), status


def public_message(error: errors.PlatformError) -> str:
    """What a page may say about ``error``: its message, but nothing of the platform's own failures."""
    return error.message if status_of(error) != 500 else "There was an internal server error."


@bp.errorhandler(errors.PlatformError)
def _platform_error(error: errors.PlatformError) -> tuple[str, int]:
    return _page(public_message(error), status_of(error))


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int]:
    return _page(error.description or error.name, error.code or 500)


@bp.app_template_filter("when")
def _when(ms: int | None) -> str:
    """Epoch milliseconds as UTC date and time to the millisecond."""
    if not ms:
        return "—"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@bp.context_processor
def _page_context() -> dict[str, Any]:
    namespace = (request.view_args or {}).get("namespace")
    if current_user.is_authenticated and not current_user.is_operator:
        namespace = current_user.identity.namespace
    return {"user": current_user, "nav_namespace": namespace,
            "flower_url": services().settings.admin.flower_url}
