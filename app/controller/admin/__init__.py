"""The admin pages: a server-rendered Flask blueprint under ``/admin``.

Pages call the same use cases as the REST API (``app.core.services``, reached through the controller's
``Services``), never the store. Sessions are Flask-Login's, every POST carries a Flask-WTF CSRF token, and
htmx (vendored) only improves pages that read fine without JavaScript.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from app.controller.admin import session
from app.controller.admin.blueprint import bp
from app.controller.admin.views import (  # noqa: F401  (routes)
    actions,
    activations,
    apis,
    auth,
    dashboard,
    editor,
    events,
    invokers,
    namespaces,
)
from app.services import Services
from config import Settings

__all__ = ["init_admin"]

ADMIN_PREFIX = "/admin"


def init_admin(app: Flask, settings: Settings, services: Services) -> None:
    """Configure cookies, sessions and CSRF for the admin pages and mount them at ``/admin``."""
    admin = settings.admin
    app.config.update(
        # Configured, or else one random key kept in the store, so every worker and controller agrees.
        SECRET_KEY=admin.secret_key or services.identities.session_secret(),
        SESSION_COOKIE_NAME="squall_admin",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=admin.cookie_secure,
        SESSION_COOKIE_PATH=ADMIN_PREFIX,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=admin.session_hours),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=admin.cookie_secure,
        REMEMBER_COOKIE_SAMESITE="Lax",
        # The REST API authenticates every request with basic auth and has no forms: CSRF is checked by the
        # admin blueprint's own hook, not app-wide.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    app.extensions["squall_csrf"] = CSRFProtect(app)
    session.init_login(app, ADMIN_PREFIX)
    app.register_blueprint(bp, url_prefix=ADMIN_PREFIX)
