"""Who is logged in to the admin pages: the operator (sees every namespace) or a namespace's key holder.

The session holds only who is logged in (``operator:<name>`` or ``key:<uuid>``), never a key, and a random id
of this login; the key's owner is looked up again on every request, so revoking or blocking a key ends its
sessions, and logging out ends the id on every controller (``EndedSessions``), so a copy of the cookie kept from
before is refused.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from flask import Flask, Request, abort, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user, user_logged_in, user_logged_out
from werkzeug.security import check_password_hash

from app.controller.context import ended_sessions, services
from app.core.errors import NotFound, Unauthorized
from app.core.identities import Identity, split_credentials

OPERATOR = "operator:"
KEY = "key:"
SESSION_ID = "squall_sid"


@dataclass
class AdminUser(UserMixin):  # type: ignore[misc]
    user_id: str
    identity: Identity | None  # None for the operator

    def get_id(self) -> str:
        return self.user_id

    @property
    def is_operator(self) -> bool:
        return self.identity is None

    @property
    def label(self) -> str:
        return self.user_id.removeprefix(OPERATOR) if self.identity is None else self.identity.namespace


def check_login(login: str, password: str) -> AdminUser:
    """The user for these credentials: the operator's name and password, or a namespace's ``uuid`` and key
    (also accepted as ``uuid:key`` in the login field). Raises ``Unauthorized``."""
    admin = services().settings.admin
    if login == admin.operator:
        if admin.operator_password_hash and check_password_hash(admin.operator_password_hash, password):
            return AdminUser(OPERATOR + login, None)
        raise Unauthorized()
    if ":" in login and not password:
        login, password = split_credentials(login)
    identity = services().identities.authenticate(login, password)
    return AdminUser(KEY + identity.uuid, identity)


def _load(user_id: str) -> AdminUser | None:
    session_id = session.get(SESSION_ID)
    if not isinstance(session_id, str) or ended_sessions().has_ended(session_id):
        return None  # logged out (or a cookie from before sessions had ids): log in again
    admin = services().settings.admin
    if user_id.startswith(OPERATOR):
        name = user_id.removeprefix(OPERATOR)
        return AdminUser(user_id, None) if name == admin.operator and admin.operator_password_hash else None
    if user_id.startswith(KEY):
        try:
            return AdminUser(user_id, services().identities.lookup(user_id.removeprefix(KEY)))
        except Unauthorized:
            return None
    return None


def _started(sender: Flask, **extra: Any) -> None:
    """A login happened: the session gets an id of its own."""
    session[SESSION_ID] = secrets.token_urlsafe(32)


def _ended(sender: Flask, **extra: Any) -> None:
    """A logout happened: its session id ends everywhere, whatever the browser does with the cookie."""
    session_id = session.pop(SESSION_ID, None)
    if isinstance(session_id, str):
        ended_sessions().end(session_id)


class AdminOnlySessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions for the admin pages only. Every other request (the REST API, web actions)
    gets Flask's null session: its cookie's path is ``/admin``, so no other request carries one, and opening and
    saving an empty session cost each API request 3 % of the controller's CPU (a signer built, ``Vary: Cookie``
    added). Writing to the session outside the admin pages is a bug, and raises."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix.rstrip("/")

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        path = request.path
        if path != self._prefix and not path.startswith(self._prefix + "/"):
            return None  # Flask answers None with its null session
        return super().open_session(app, request)


def init_login(app: Flask, prefix: str) -> None:
    app.session_interface = AdminOnlySessions(prefix)
    manager = LoginManager(app)
    manager.login_view = "admin.login"
    manager.login_message = None
    manager.session_protection = "basic"
    manager.user_loader(_load)
    # On Flask-Login's own signals, so that every way in and out (the login and logout views, any later one)
    # starts and ends a session id without having to remember to.
    user_logged_in.connect(_started, app)
    user_logged_out.connect(_ended, app)


def user() -> AdminUser:
    found: AdminUser = current_user._get_current_object()
    return found


def acting_identity(namespace: str) -> Identity:
    """The identity the pages use in ``namespace``: a key holder's own (the use cases refuse other namespaces
    with 403), or, for the operator, that namespace's owner."""
    who = user()
    if who.identity is not None:
        return who.identity
    try:
        return services().identities.owner_of(namespace)
    except NotFound:
        abort(404)


def visible_identities() -> list[Identity]:
    """Whose activations the dashboard counts: one's own, or every namespace's for the operator."""
    who = user()
    if who.identity is not None:
        return [who.identity]
    return services().identities.identities()
