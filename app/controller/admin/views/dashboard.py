"""The dashboard: charts drawn from activation records over the last minutes (tables without JavaScript)."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.controller.admin.blueprint import bp
from app.controller.admin.session import visible_identities
from app.controller.context import services
from app.core.activity import Dashboard
from app.core.entities import now_ms

WINDOWS = (5, 15, 30, 60, 180)


def _window() -> int:
    try:
        minutes = int(request.args.get("minutes", "30"))
    except ValueError:
        minutes = 30
    return minutes if minutes in WINDOWS else 30


def _dashboard(minutes: int) -> Dashboard:
    until = now_ms()
    return services().activations.dashboard(visible_identities(), until - minutes * 60_000, until)


@bp.route("/")
def index() -> Response:
    return redirect(url_for("admin.dashboard"))


@bp.route("/dashboard")
def dashboard() -> str:
    minutes = _window()
    return render_template("admin/dashboard.html", board=_dashboard(minutes), minutes=minutes, windows=WINDOWS)


@bp.route("/dashboard.json")
def dashboard_data() -> Response:
    """The dashboard's series for the charts script (refreshed while the page is open)."""
    board = _dashboard(_window())
    data: dict[str, Any] = dataclasses.asdict(board)
    data["minutes"] = [{**dataclasses.asdict(m), "total": m.total} for m in board.minutes]
    return jsonify(data)
