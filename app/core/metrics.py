"""What Squall's metrics mean, without the client library that serves them: the label values, the start kinds,
the times a record holds, and who may read them (a bearer of the metrics token). The controller
(``app.controller.metrics``) and the invoker (``workers.metrics``) count with these; docs/production.md
("Metrics") lists every metric.
"""

from __future__ import annotations

import hmac

from app.core.entities import Activation, KeyValues, Status, annotation

__all__ = [
    "COLD",
    "PREWARM",
    "STATUS_LABELS",
    "WARM",
    "bearer_matches",
    "init_seconds",
    "start_kind",
    "status_label",
    "wait_seconds",
]

STATUS_LABELS = {
    Status.SUCCESS: "success",
    Status.APPLICATION_ERROR: "application_error",
    Status.DEVELOPER_ERROR: "developer_error",
    Status.WHISK_ERROR: "whisk_error",
}
"""The record's status as a label value (OpenWhisk's four outcomes, without spaces)."""

COLD = "cold"
"""The activation's container was started for it, then ``/init``."""
PREWARM = "prewarm"
"""A prewarmed container (a stem cell) of its kind was taken, then ``/init``."""
WARM = "warm"
"""The action's own container was reused: no ``/init``."""


def status_label(status: Status) -> str:
    return STATUS_LABELS[status]


def start_kind(initialized: bool, from_prewarm: bool) -> str:
    """How an activation that reached its container started: in one ``/init`` had been sent to (warm), else in a
    prewarmed stem cell or a new container."""
    if initialized:
        return WARM
    return PREWARM if from_prewarm else COLD


def _seconds(annotations: KeyValues, key: str) -> float | None:
    value = annotation(annotations, key)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return value / 1000
    return None


def wait_seconds(activation: Activation) -> float | None:
    """The record's ``waitTime``: from the controller's receipt to a container ready for it (queue and pool)."""
    return _seconds(activation.annotations, "waitTime")


def init_seconds(activation: Activation) -> float | None:
    """The record's ``initTime``: the ``/init`` of a cold or prewarm start; None for a warm one."""
    return _seconds(activation.annotations, "initTime")


def bearer_matches(authorization: str | None, token: str) -> bool:
    """Does an ``Authorization`` header carry ``Bearer <token>``? Never with an empty token (metrics off);
    compared in constant time."""
    if not token or not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "surrogatepass"), token.encode("utf-8"))
