"""Actions of a namespace: the list, one action's page (code, parameters, limits), invoking it, deleting it."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.controller.admin.blueprint import bp, public_message
from app.controller.admin.code import editable, highlighted
from app.controller.admin.forms import ConfirmForm, InvokeForm
from app.controller.admin.paging import Paging
from app.controller.admin.session import acting_identity
from app.controller.admin.views.editor import editor_page
from app.controller.context import services
from app.core.errors import PlatformError
from app.core.names import EntityPath


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
                           outcome=outcome, activation_id=activation_id, confirm=ConfirmForm(),
                           editable=editable(action))


@bp.route("/ns/<namespace>/actions/<path:name>")
def action(namespace: str, name: str) -> str:
    return _detail(namespace, name, InvokeForm())


@bp.route("/ns/<namespace>/invoke-action/<path:name>", methods=["POST"])
def invoke(namespace: str, name: str) -> tuple[str, int]:
    """The outcome: swapped into the page by htmx, else the page again (the action's, or the editor's when the
    form came from there) with the outcome in it."""
    form = InvokeForm()
    htmx = bool(request.headers.get("HX-Request"))
    if not form.validate_on_submit():
        if htmx:
            return _refused(" ".join(form.params.errors) or "The form was not valid: reload the page.")
        return _answer(namespace, name, form, None, None, 400)
    identity = acting_identity(namespace)
    try:
        outcome = services().invocations.invoke(identity, EntityPath.from_url(namespace, name), form.payload,
                                                blocking=bool(form.blocking.data), transaction_id=g.tid)
    except PlatformError as e:
        if not htmx:
            raise  # the error page, with its status
        return _refused(public_message(e))
    finished = outcome.activation.to_api() if outcome.activation is not None else None
    return _answer(namespace, name, form, finished, outcome.activation_id, 200)


def _refused(message: str) -> tuple[str, int]:
    """A refused invoke (bad parameters, a throttle, a reserved parameter) shown where its result would be. 200:
    htmx swaps in only 2xx answers, and the refusal is what this answer is for; a page without htmx gets the error
    page with the refusal's status."""
    return render_template("admin/_invoke_refused.html", message=message), 200


def _answer(namespace: str, name: str, form: InvokeForm, outcome: dict[str, Any] | None,
            activation_id: str | None, status: int) -> tuple[str, int]:
    if form.back.data == "edit" and not (request.headers.get("HX-Request") and activation_id):
        return editor_page(namespace, name, form, outcome, activation_id, status)
    return _detail(namespace, name, form, outcome, activation_id), status


@bp.route("/ns/<namespace>/delete-action/<path:name>", methods=["GET", "POST"])
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
