"""``/api/v1/namespaces``: the caller's namespace and its limits."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from app.controller.auth import authenticate
from app.controller.context import identity, services
from app.core.services.entitlement import check_owner, resolve_namespace

bp = Blueprint("namespaces", __name__, url_prefix="/api/v1/namespaces")
bp.before_request(authenticate)


@bp.get("")
def list_namespaces() -> Response:
    return jsonify([identity().namespace])


@bp.get("/<namespace>/limits")
def limits(namespace: str) -> Response:
    resolved = resolve_namespace(identity(), namespace)
    check_owner(identity(), resolved)
    lim = services().settings.limits
    own = services().limits.of(resolved)  # the deployment's throttles with this namespace's overrides
    return jsonify({
        "invocationsPerMinute": own.invocations_per_minute,
        "concurrentInvocations": own.concurrent_invocations,
        "firesPerMinute": own.fires_per_minute,
        "maxActionMemory": lim.max_memory_mb, "minActionMemory": lim.min_memory_mb,
        "maxActionLogs": lim.max_logs_mb, "minActionLogs": lim.min_logs_mb,
        "maxActionTimeout": lim.max_timeout_ms, "minActionTimeout": lim.min_timeout_ms,
        "maxActionConcurrency": lim.max_concurrency, "minActionConcurrency": lim.min_concurrency,
        "maxParameterSize": _size(lim.parameters_bytes),
        "maxActionInstances": own.concurrent_invocations,
        # Ours: how long this namespace's records are kept (0: for ever); OpenWhisk's storeActivations only when
        # it is off, as OpenWhisk shows it only when set.
        "activationsKeepDays": own.activations_keep_days,
        **({"storeActivations": False} if not own.store_activations else {}),
    })


def _size(n: int) -> str:
    """OpenWhisk's ``ByteSize`` text: whole MB where it is one, else KB or B."""
    for unit, scale in (("MB", 1_048_576), ("KB", 1024)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"
