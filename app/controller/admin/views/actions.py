"""Actions of a namespace: the list, one action's page (code, parameters, limits), invoking it, deleting it."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from werkzeug.wrappers import Response

from app.controller.admin.blueprint import bp
from app.controller.admin.forms import ConfirmForm, InvokeForm
from app.controller.admin.paging import Paging
from app.controller.admin.session import acting_identity
from app.controller.context import services
from app.core.entities import Action
from app.core.names import EntityPath

_LEXERS = {"python": "python", "nodejs": "javascript", "java": "java", "go": "go", "php": "php", "ruby": "ruby",
           "swift": "swift", "dotnet": "csharp", "rust": "rust"}


def highlighted(action: Action) -> Markup | None:
    """The action's code as highlighted HTML (Pygments, server-side); None for zips and images."""
    code = action.exec.code
    if code is None or action.exec.binary:
        return None
    lexer = get_lexer_by_name(_LEXERS.get(action.exec.kind.split(":")[0], "text"))
    return Markup(highlight(code, lexer, HtmlFormatter(cssclass="highlight", linenos="table")))  # noqa: S704


@bp.route("/ns/<namespace>/actions")
def actions(namespace: str) -> str:
    identity = acting_identity(namespace)
    paging = Paging.from_args(request.args)
    s = services()
    listed = s.actions.list(identity, namespace, paging.skip, paging.limit + 1)
    rows = [(a, s.activations.latest(identity, namespace, a.path.relative)) for a in listed[:paging.limit]]
    return render_template("admin/actions.html", namespace=namespace, rows=rows,
                           paging=paging.page(more=len(listed) > paging.limit),
                           total=s.actions.count(identity, namespace))


def _detail(namespace: str, name: str, form: InvokeForm, outcome: dict[str, Any] | None = None,
            activation_id: str | None = None) -> str:
    identity = acting_identity(namespace)
    path = EntityPath.from_url(namespace, name)
    action = services().actions.get(identity, path, include_code=False)
    if action.exec.attached is not None and not action.exec.binary:  # text to show: read it; a zip is not shown
        action = services().actions.get(identity, path)
    template = "admin/_invoke_result.html" if request.headers.get("HX-Request") and activation_id else \
        "admin/action.html"
    return render_template(template, namespace=namespace, action=action, code=highlighted(action), form=form,
                           outcome=outcome, activation_id=activation_id, confirm=ConfirmForm())


@bp.route("/ns/<namespace>/actions/<path:name>")
def action(namespace: str, name: str) -> str:
    return _detail(namespace, name, InvokeForm())


@bp.route("/ns/<namespace>/actions/<path:name>/invoke", methods=["POST"])
def invoke(namespace: str, name: str) -> tuple[str, int]:
    form = InvokeForm()
    if not form.validate_on_submit():
        return _detail(namespace, name, form), 400
    identity = acting_identity(namespace)
    outcome = services().invocations.invoke(identity, EntityPath.from_url(namespace, name), form.payload,
                                            blocking=bool(form.blocking.data), transaction_id=g.tid)
    finished = outcome.activation.to_api() if outcome.activation is not None else None
    return _detail(namespace, name, form, finished, outcome.activation_id), 200


@bp.route("/ns/<namespace>/actions/<path:name>/delete", methods=["GET", "POST"])
def delete_action(namespace: str, name: str) -> Response | str:
    identity = acting_identity(namespace)
    path = EntityPath.from_url(namespace, name)
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        services().actions.delete(identity, path)
        flash(f"Deleted {path.fqn}.")
        return redirect(url_for("admin.actions", namespace=namespace))
    found = services().actions.get(identity, path, include_code=False)
    return render_template("admin/action_delete.html", namespace=namespace, action=found, confirm=form)
