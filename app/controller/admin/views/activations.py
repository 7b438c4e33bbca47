"""Activations of a namespace: a filterable, paged table and one activation's page."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from flask import render_template, request

from app.controller.admin.blueprint import bp
from app.controller.admin.paging import Paging
from app.controller.admin.session import acting_identity
from app.controller.context import services
from app.core.activity import ActivationFilter, Timings, is_cold
from app.core.entities import Status
from app.core.errors import Invalid

STATUSES = {s.label: s for s in Status}
MAX_LOG_POLLS = 120
"""The invoke page asks for the logs about twice a second, for a minute at most (a non-blocking or long
invoke); after that the link to the activation's page remains."""


def parse_time(raw: str | None, what: str) -> int | None:
    """``YYYY-MM-DDTHH:MM[:SS]`` (an HTML datetime-local, read as UTC) or epoch milliseconds."""
    if not raw:
        return None
    if raw.isdigit():
        return int(raw)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as e:
        raise Invalid(f"{what}: expected a date and time like 2026-01-31T12:00, got {raw!r}") from e
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def parse_filter(args: Mapping[str, str]) -> ActivationFilter:
    status = args.get("status") or None
    if status is not None and status not in STATUSES:
        raise Invalid(f"status must be one of: {', '.join(STATUSES)}")
    start = args.get("start") or None
    if start not in (None, "cold", "warm"):
        raise Invalid("start must be cold or warm")
    return ActivationFilter(name=(args.get("name") or "").strip() or None,
                            status=STATUSES[status] if status else None, start=start,
                            since=parse_time(args.get("since"), "since"), upto=parse_time(args.get("until"), "until"))


@bp.route("/ns/<namespace>/activations")
def activations(namespace: str) -> str:
    identity = acting_identity(namespace)
    query = parse_filter(request.args)
    paging = Paging.from_args(request.args)
    page = services().activations.search(identity, namespace, query, paging.skip, paging.limit)
    template = "admin/_activations_table.html" if request.headers.get("HX-Request") else "admin/activations.html"
    args = {k: v for k, v in request.args.items() if k != "skip" and v}
    return render_template(template, namespace=namespace, page=page, paging=paging.page(page.more), args=args,
                           statuses=list(STATUSES), is_cold=is_cold)


@bp.route("/ns/<namespace>/activations/<activation_id>")
def activation(namespace: str, activation_id: str) -> str:
    identity = acting_identity(namespace)
    found = services().activations.get(identity, namespace, activation_id)
    return render_template("admin/activation.html", namespace=namespace, activation=found,
                           timings=Timings.of(found), cold=is_cold(found),
                           flower_url=services().settings.admin.flower_url)


@bp.route("/ns/<namespace>/activations/<activation_id>/logs")
def activation_logs(namespace: str, activation_id: str) -> str:
    """The logs fragment of the invoke page: polls (htmx) until the record, which carries the logs, is stored."""
    identity = acting_identity(namespace)
    found = services().activations.stored(identity, namespace, activation_id)
    polls = Paging.from_args({"skip": request.args.get("poll", "0")}).skip + 1
    return render_template("admin/_logs.html", namespace=namespace, activation_id=activation_id,
                           logs=found.logs if found else [], stored=found is not None,
                           poll=polls if polls < MAX_LOG_POLLS else None)
