"""Log in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from app.controller.admin.blueprint import bp
from app.controller.admin.forms import ConfirmForm, LoginForm
from app.controller.admin.session import check_login
from app.controller.context import services
from app.core.errors import Invalid, Throttled, Unauthorized


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host), else the dashboard: no open redirect."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/admin"):
            return target
    return url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    form = LoginForm()
    if form.validate_on_submit():
        try:
            services().logins.attempt(request.remote_addr or "unknown")
        except Throttled:
            return render_template("admin/login.html", form=form, failed=False, throttled=True), 429
        try:
            user = check_login((form.login.data or "").strip(), form.password.data or "")
        except (Unauthorized, Invalid):
            return render_template("admin/login.html", form=form, failed=True), 401
        session.clear()  # a fresh session at each login (no fixation)
        login_user(user)
        session.permanent = True
        return redirect(_safe_next(request.args.get("next")))
    return render_template("admin/login.html", form=form, failed=False)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    ConfirmForm()  # the token was checked by the blueprint's guard
    logout_user()
    session.clear()
    return redirect(url_for("admin.login"))
