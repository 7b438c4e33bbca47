"""Triggers (with their rules and the actions those invoke) and packages (with bindings) of a namespace."""

from __future__ import annotations

from flask import render_template

from app.controller.admin.blueprint import bp
from app.controller.admin.session import acting_identity
from app.controller.context import services
from app.core.entities import annotation

LISTED = 200
"""At most this many triggers and packages are shown; the REST API pages through more."""


@bp.route("/ns/<namespace>/events")
def events(namespace: str) -> str:
    identity = acting_identity(namespace)
    s = services()
    triggers = s.triggers.list(identity, namespace, 0, LISTED)
    rows = [(t, annotation(t.annotations, "feed"), sorted(t.rules.items())) for t in triggers]
    packages = s.packages.list(identity, namespace, 0, LISTED)
    return render_template("admin/events.html", namespace=namespace, triggers=rows, packages=packages,
                           rules=s.rules.count(identity, namespace))
