"""Namespaces and their keys (operator): create, rotate and revoke keys, block and unblock subjects.

A new key is rendered once, in the response to the POST that made it, and never stored in the session.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from app.controller.admin.blueprint import bp, operator_only
from app.controller.admin.forms import ConfirmForm, LimitsForm, NamespaceForm
from app.controller.context import services


def _page(form: NamespaceForm | None = None, status: int = 200,
          limits_form: LimitsForm | None = None) -> tuple[str, int]:
    s = services()
    subjects = s.identities.list()
    namespaces = sorted({n.namespace for subject in subjects for n in subject.namespaces})
    overrides = {ns: s.limits.overrides(ns) for ns in namespaces}
    return render_template("admin/namespaces.html", subjects=subjects, form=form or NamespaceForm(),
                           confirm=ConfirmForm(), limits=s.settings.limits, overrides=overrides,
                           keep_days=s.settings.retention.keep_days,
                           limits_form=limits_form or LimitsForm()), status


def _issued(what: str, subject: str, namespace: str, credentials: str) -> tuple[str, int]:
    return render_template("admin/key_issued.html", what=what, subject=subject, namespace=namespace,
                           credentials=credentials), 200


@bp.route("/namespaces")
@operator_only
def namespaces() -> tuple[str, int]:
    return _page()


@bp.route("/namespaces", methods=["POST"])
@operator_only
def create_namespace() -> tuple[str, int]:
    form = NamespaceForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    subject = (form.subject.data or "").strip() or None
    namespace = (form.namespace.data or "").strip()
    credentials = services().identities.create(namespace, subject)
    return _issued("created", subject or namespace, namespace, credentials)


@bp.route("/subjects/<subject>/namespaces/<namespace>/rotate", methods=["POST"])
@operator_only
def rotate_key(subject: str, namespace: str) -> tuple[str, int]:
    credentials = services().identities.rotate_key(subject, namespace)
    return _issued("rotated", subject, namespace, credentials)


@bp.route("/subjects/<subject>/namespaces/<namespace>/revoke", methods=["POST"])
@operator_only
def revoke_key(subject: str, namespace: str) -> Response:
    services().identities.revoke_key(subject, namespace)
    flash(f"Revoked the key of {namespace} ({subject}).")
    return redirect(url_for("admin.namespaces"))


@bp.route("/subjects/<subject>/block", methods=["POST"])
@operator_only
def block(subject: str) -> Response:
    services().identities.set_blocked(subject, True)
    flash(f"Blocked {subject}.")
    return redirect(url_for("admin.namespaces"))


@bp.route("/subjects/<subject>/unblock", methods=["POST"])
@operator_only
def unblock(subject: str) -> Response:
    services().identities.set_blocked(subject, False)
    flash(f"Unblocked {subject}.")
    return redirect(url_for("admin.namespaces"))


@bp.route("/namespaces/limits", methods=["POST"])
@operator_only
def set_limits() -> Response | tuple[str, int]:
    form = LimitsForm()
    if not form.validate_on_submit():
        return _page(limits_form=form, status=400)
    namespace = (form.namespace.data or "").strip()
    stored = {"true": True, "false": False}.get(form.store_activations.data or "")
    services().limits.set(namespace, {"invocationsPerMinute": form.invocations_per_minute.data,
                                      "firesPerMinute": form.fires_per_minute.data,
                                      "concurrentInvocations": form.concurrent_invocations.data,
                                      "activationsKeepDays": form.activations_keep_days.data,
                                      "storeActivations": stored})
    flash(f"Limits of {namespace} saved; every controller applies them within its cache time.")
    return redirect(url_for("admin.namespaces"))
