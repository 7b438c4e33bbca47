"""The gateway APIs of a namespace (``wsk api list``): each API's routes with their actions, settings and URLs."""

from __future__ import annotations

from flask import render_template

from app.controller.admin.blueprint import bp
from app.controller.admin.session import acting_identity
from app.controller.context import services


@bp.route("/ns/<namespace>/apis")
def apis(namespace: str) -> str:
    identity = acting_identity(namespace)
    s = services()
    found = sorted(s.apis.of(identity, namespace), key=lambda a: a.base_path)
    return render_template("admin/apis.html", namespace=namespace, apis=found, api_host=s.apis.api_host)
