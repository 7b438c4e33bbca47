"""Log in and out."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from app.controller.admin.blueprint import bp
from app.controller.admin.forms import ConfirmForm, LoginForm
from app.controller.admin.session import check_login
from app.controller.context import services
from app.controller.metrics import throttled_by
from app.core.errors import Invalid, Throttled, Unauthorized

_ADMIN_PAGE = re.compile(r"\A/admin(?:[/?][\x21-\x5b\x5d-\x7e]*)?\Z")
"""``/admin``, or a path or query under it, in printable ASCII: no control character (a CR/LF would split the
``Location`` header, which werkzeug refuses with a 500), no space, and no backslash (browsers read it as a slash,
so ``/\\host`` would be another site)."""


def _safe_next(target: str | None) -> str:
    """Only a page of the admin on this site, else the dashboard: no open redirect, no header injection."""
    if target and _ADMIN_PAGE.match(target) and not urlsplit(target).netloc:
        return target
    return url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | tuple[str, int, dict[str, str]] | str:
    form = LoginForm()
    if form.validate_on_submit():
        try:
            services().logins.attempt(request.remote_addr or "unknown")
        except Throttled as e:
            throttled_by(e.reason, e.namespace)
            headers = {"Retry-After": str(e.retry_after_s)} if e.retry_after_s is not None else {}
            return render_template("admin/login.html", form=form, failed=False, throttled=True), 429, headers
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
