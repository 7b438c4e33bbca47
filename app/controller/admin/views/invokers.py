"""Invokers and their container pools (operator)."""

from __future__ import annotations

from flask import render_template, request

from app.controller.admin.blueprint import bp, operator_only
from app.controller.context import services
from app.core.entities import now_ms


@bp.route("/invokers")
@operator_only
def invokers() -> str:
    found = services().invokers.invokers()
    template = "admin/_invokers_table.html" if request.headers.get("HX-Request") else "admin/invokers.html"
    return render_template(template, invokers=found, now_ms=now_ms(), invoker=services().settings.invoker)
