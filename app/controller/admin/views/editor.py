"""Creating and editing an action in the browser: code in an editor, kind, parameters, limits, web export, and the
invoke form beside it (the edit–run loop).

The form becomes the REST API's ``ActionPut`` body and goes to the same use case (``ActionService.put``), so names,
kinds, sizes, limits and rights are checked once, in one place. Saving carries the revision the page was loaded
at: if the action changed meanwhile the page answers 409 with the user's code still in the form and offers to
overwrite or reload.
"""

from __future__ import annotations

import json
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.controller.admin.blueprint import bp
from app.controller.admin.code import EDITOR_MODES, EDITOR_SCRIPTS, EDITOR_STYLES, editable, highlighted
from app.controller.admin.forms import ActionForm, InvokeForm, NewActionForm, web_mode
from app.controller.admin.session import acting_identity
from app.controller.context import services
from app.controller.errors import status_of
from app.core.entities import Action
from app.core.errors import Conflict, Invalid, NotFound, PlatformError
from app.core.names import EntityPath
from app.core.requests import ActionPut, parse
from app.core.services.entitlement import check_owner

_FIELD_OF = (("timeout ", "timeout"), ("memory ", "memory"), ("log size ", "logs"), ("concurrency ", "concurrency"),
             ("The specified runtime", "kind"), ("The '", "kind"), ("The name of the entity", "name"),
             ("Name segement", "name"), ("The size of parameters", "parameters"), ("Code size", "code"))
"""Where a refusal of the use case is shown: by the start of its message (OpenWhisk's words), else atop the form."""


def _page(namespace: str, form: ActionForm, *, path: EntityPath | None, action: Action | None, status: int = 200,
          conflict: bool = False, invoke: InvokeForm | None = None, outcome: dict[str, Any] | None = None,
          activation_id: str | None = None) -> tuple[str, int]:
    """The editor: ``path`` None to create; ``action`` as stored now (None: not yet, or deleted meanwhile)."""
    form.kinds(_offered_kinds(), action.exec.kind if action else None)
    return render_template(
        "admin/action_edit.html", namespace=namespace, path=path, action=action, form=form, conflict=conflict,
        theirs=highlighted(action) if conflict and action else None, limits=services().settings.limits,
        modes=json.dumps(EDITOR_MODES), editor_scripts=EDITOR_SCRIPTS, editor_styles=EDITOR_STYLES,
        invoke_form=invoke or InvokeForm(formdata=None, back="edit"),
        outcome=outcome, activation_id=activation_id,
    ), status


def _offered_kinds() -> dict[str, list[str]]:
    """The manifest's kinds a new version may use, by family (as ``GET /`` lists them, less the deprecated)."""
    manifest = services().manifest
    offered = {family: [k for k in kinds if not manifest.is_deprecated(k)]
               for family, kinds in manifest.families().items()}
    return {family: kinds for family, kinds in offered.items() if kinds}


def _default_kind() -> str | None:
    """What a new action starts as: the python family's default kind, else the first kind offered."""
    offered = _offered_kinds()
    if "python" in offered:
        return services().manifest.default_kind("python")
    return next((kinds[0] for kinds in offered.values()), None)


def _refused(form: ActionForm, error: PlatformError) -> None:
    """Show the use case's refusal next to the field it is about."""
    message = error.message
    for prefix, name in _FIELD_OF:
        if message.startswith(prefix) and name in form:
            form[name].errors = [*form[name].errors, message]
            return
    form.form_errors.append(message.removeprefix("The request content was malformed:\n"))


def _save(form: ActionForm, namespace: str, path: EntityPath, create: bool, expected_rev: str | None) -> Action:
    body = parse(ActionPut, form.request_body(create))  # what PUT /actions/{name} parses, parsed the same way
    return services().actions.put(acting_identity(namespace), path, body, overwrite=not create,
                                  expected_rev=expected_rev)


@bp.route("/ns/<namespace>/create-action", methods=["GET", "POST"])
def new_action(namespace: str) -> Response | tuple[str, int]:
    """A redirect to the new action's editor; the form with its errors: 400/413, 404 no such package, 409 name taken."""
    check_owner(acting_identity(namespace), namespace)
    form = NewActionForm()
    if request.method == "GET":
        form.kind.data = _default_kind()
        return _page(namespace, form, path=None, action=None)
    if not form.validate_on_submit():
        return _page(namespace, form, path=None, action=None, status=400)
    try:
        path = EntityPath.from_url(namespace, (form.name.data or "").strip())
        saved = _save(form, namespace, path, create=True, expected_rev=None)
    except Conflict as e:
        form.name.errors = [*form.name.errors, f"{e.message}: choose another name, or edit that one."]
        return _page(namespace, form, path=None, action=None, status=409)
    except NotFound:  # the package named before the slash
        form.name.errors = [*form.name.errors, f"There is no package of that name in {namespace}."]
        return _page(namespace, form, path=None, action=None, status=404)
    except Invalid as e:
        _refused(form, e)
        return _page(namespace, form, path=None, action=None, status=status_of(e))
    flash(f"Created {saved.path.fqn}, version {saved.version}.")
    return redirect(url_for("admin.edit_action", namespace=namespace, name=saved.path.relative))


def _stored(namespace: str, path: EntityPath) -> Action:
    """The action as stored (its own parameters, not its package's; its code read in)."""
    return services().actions.get(acting_identity(namespace), path, inherited=False)


def _editable(namespace: str, name: str) -> Action:
    """The action to edit; anything but text code of a runtime kind is refused (400), and so is an action reached
    through a package binding (it lives in the bound package, where it is edited)."""
    path = EntityPath.from_url(namespace, name)
    action = _stored(namespace, path)
    if action.path != path:
        raise Invalid(f"{path.fqn} is reached through a package binding: edit {action.path.fqn} instead.")
    if not editable(action):
        raise Invalid(f"{action.path.fqn} is not text code of a runtime kind (a zip, an image or a sequence): "
                      "change it with the CLI or the API.")
    return action


def _filled(action: Action) -> ActionForm:
    values = {p["key"]: p.get("value") for p in action.parameters}
    init = [p["key"] for p in action.parameters if p.get("init")]
    limits = action.limits
    return ActionForm(formdata=None, kind=action.exec.kind, main=action.exec.main or "", code=action.exec.code,
                      parameters=json.dumps(values, indent=2, ensure_ascii=False), timeout=limits.timeout,
                      memory=limits.memory, logs=limits.logs, concurrency=limits.concurrency,
                      web=web_mode(action.annotations), rev=action.rev, init_keys=json.dumps(init))


@bp.route("/ns/<namespace>/edit-action/<path:name>")
def edit_action(namespace: str, name: str) -> tuple[str, int]:
    action = _editable(namespace, name)
    return _page(namespace, _filled(action), path=action.path, action=action)


@bp.route("/ns/<namespace>/edit-action/<path:name>", methods=["POST"])
def save_action(namespace: str, name: str) -> Response | tuple[str, int]:
    """Save a new version: a redirect to the editor; 400/413 the form with its errors; 409 the action changed since
    the page was loaded (the form keeps what was typed). ``overwrite_rev``, sent by the conflict's button,
    replaces the revision the conflict showed; empty, it creates the action again after it was deleted."""
    path = EntityPath.from_url(namespace, name)
    form = ActionForm()
    overwriting = "overwrite_rev" in request.form
    expected = request.form.get("overwrite_rev", "") if overwriting else form.rev.data or ""
    valid = form.validate_on_submit()
    if valid and not expected and not overwriting:
        form.form_errors.append("The form does not say which version it edits: reload the page.")
        valid = False
    if not valid:
        return _page(namespace, form, path=path, action=_now(namespace, path), status=400)
    try:
        saved = _save(form, namespace, path, create=not expected, expected_rev=expected or None)
    except Conflict:
        return _page(namespace, form, path=path, action=_now(namespace, path), status=409, conflict=True)
    except (Invalid, NotFound) as e:
        _refused(form, e)
        return _page(namespace, form, path=path, action=_now(namespace, path), status=status_of(e))
    flash(f"Saved {saved.path.fqn}, version {saved.version}.")
    return redirect(url_for("admin.edit_action", namespace=namespace, name=saved.path.relative))


def _now(namespace: str, path: EntityPath) -> Action | None:
    """The action as stored now, or None once deleted."""
    try:
        return _stored(namespace, path)
    except NotFound:
        return None


def editor_page(namespace: str, name: str, invoke: InvokeForm, outcome: dict[str, Any] | None,
                activation_id: str | None, status: int) -> tuple[str, int]:
    """The editor with an invocation's outcome beside the code (its invoke form posted without JavaScript)."""
    action = _editable(namespace, name)
    return _page(namespace, _filled(action), path=action.path, action=action, status=status, invoke=invoke,
                 outcome=outcome, activation_id=activation_id)
