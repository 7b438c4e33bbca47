"""Limits, in one place: what an action may use (OpenWhisk ``ActionLimits`` and the policy bounding them), what a
namespace may do per minute and at once (OpenWhisk ``UserLimits``, set with ``wskadmin limits set``), the arithmetic
of the one-minute throttle windows (as OpenWhisk's ``RateThrottler`` counts them) and of the activations in flight
(as its ``ActivationThrottler`` checks them).

Everything here is pure: the counting goes through the ``RateCounter`` and ``InFlight`` ports (``app.state``) so
several controllers share one count.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from app.core.errors import Invalid, Throttled

# --- action limits -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionLimits:
    timeout: int  # ms
    memory: int  # MB
    logs: int  # MB
    concurrency: int

    def to_doc(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class LimitPolicy:
    """The allowed ranges and defaults; built from settings by the composition root."""

    min_timeout_ms: int = 100
    max_timeout_ms: int = 300_000
    default_timeout_ms: int = 60_000
    min_memory_mb: int = 128
    max_memory_mb: int = 512
    default_memory_mb: int = 256
    min_logs_mb: int = 0
    max_logs_mb: int = 10
    default_logs_mb: int = 10
    min_concurrency: int = 1
    max_concurrency: int = 1
    default_concurrency: int = 1

    @property
    def defaults(self) -> ActionLimits:
        return ActionLimits(self.default_timeout_ms, self.default_memory_mb, self.default_logs_mb,
                            self.default_concurrency)

    def validate(self, given: Any, base: ActionLimits | None = None) -> ActionLimits:
        """Merge a (possibly partial) ``limits`` object over ``base`` and check every field.

        Raises ``Invalid`` with OpenWhisk's messages, e.g. "memory 1024 MB exceeds allowed threshold of 512 MB".
        """
        base = base or self.defaults
        if given is None:
            return base
        if not isinstance(given, dict):
            raise Invalid("The request content was malformed:\nlimits must be an object")
        values = base.to_doc()
        for key in ("timeout", "memory", "logs", "concurrency"):
            if key in given and given[key] is not None:
                value = given[key]
                if isinstance(value, bool) or not isinstance(value, int):
                    raise Invalid(f"The request content was malformed:\n{key} limit must be an integer")
                values[key] = value
        self._check(values["timeout"], self.min_timeout_ms, self.max_timeout_ms, "timeout", "milliseconds")
        self._check(values["memory"], self.min_memory_mb, self.max_memory_mb, "memory", "MB")
        self._check(values["logs"], self.min_logs_mb, self.max_logs_mb, "log size", "MB")
        self._check(values["concurrency"], self.min_concurrency, self.max_concurrency, "concurrency", "")
        return ActionLimits(**values)

    @staticmethod
    def _check(value: int, low: int, high: int, what: str, unit: str) -> None:
        suffix = f" {unit}" if unit else ""
        if value < low:
            raise Invalid(f"{what} {value}{suffix} below allowed threshold of {low}{suffix}")
        if value > high:
            raise Invalid(f"{what} {value}{suffix} exceeds allowed threshold of {high}{suffix}")


# --- namespace limits --------------------------------------------------------------------------------

FIELDS = {"invocationsPerMinute": "invocations_per_minute", "firesPerMinute": "fires_per_minute",
          "concurrentInvocations": "concurrent_invocations", "activationsKeepDays": "activations_keep_days"}
"""The stored (and API) names of the whole-number limits a namespace may override, and ours."""

STORE_ACTIVATIONS = "storeActivations"
"""OpenWhisk's switch (``wskadmin limits set NS --storeActivations false``): no records for the namespace, while
blocking callers still get their results."""


@dataclass(frozen=True)
class NamespaceLimits:
    invocations_per_minute: int
    fires_per_minute: int
    concurrent_invocations: int = 30  # OpenWhisk's default (``limits.actions.invokes.concurrent``)
    activations_keep_days: int = 0  # 0: records are kept for ever
    store_activations: bool = True

    def overridden(self, stored: dict[str, Any]) -> NamespaceLimits:
        """These limits with the stored overrides applied (unknown or bad values are ignored)."""
        values: dict[str, Any] = {
            ours: stored[theirs] for theirs, ours in FIELDS.items()
            if isinstance(stored.get(theirs), int) and not isinstance(stored.get(theirs), bool) and stored[theirs] >= 0}
        if isinstance(stored.get(STORE_ACTIVATIONS), bool):
            values["store_activations"] = stored[STORE_ACTIVATIONS]
        return replace(self, **values)

    def to_api(self) -> dict[str, int | bool]:
        ours = asdict(self)
        named: dict[str, int | bool] = {theirs: ours[name] for theirs, name in FIELDS.items()}
        named[STORE_ACTIVATIONS] = self.store_activations
        return named


def parse_overrides(given: dict[str, Any]) -> dict[str, int | bool]:
    """Validated overrides to store: known names, whole numbers ≥ 0 (``activationsKeepDays`` 0 keeps records for
    ever), ``storeActivations`` a boolean; None or "" drops one."""
    overrides: dict[str, int | bool] = {}
    for key, value in given.items():
        if key not in FIELDS and key != STORE_ACTIVATIONS:
            raise Invalid(f"'{key}' is not a namespace limit; use one of {', '.join([*FIELDS, STORE_ACTIVATIONS])}")
        if value is None or value == "":
            continue
        if key == STORE_ACTIVATIONS:
            if not isinstance(value, bool):
                raise Invalid(f"{key} must be true or false, not {value!r}")
            overrides[key] = value
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise Invalid(f"{key} must be a whole number of at least 0, not {value!r}")
        overrides[key] = value
    return overrides


# --- throttle windows --------------------------------------------------------------------------------

WINDOW_MS = 60_000


def window_key(kind: str, namespace: str, now_ms: int) -> str:
    """The counter for ``namespace``'s ``kind`` (e.g. ``fires``) in the minute holding ``now_ms``."""
    return f"squall:throttle:{kind}:{namespace}:{now_ms // WINDOW_MS}"


def window_left_s(now_ms: int) -> int:
    """Whole seconds until the minute holding ``now_ms`` ends: when a refused caller's window opens again."""
    return (WINDOW_MS - now_ms % WINDOW_MS + 999) // 1000


def check_rate(count: int, allowed: int, kind: str = "requests", namespace: str = "", *,
               now_ms: int | None = None) -> None:
    """``count`` includes the current request; it passes while ``count <= allowed``. ``kind`` (the throttle's
    window kind, as in ``window_key``) and the ``namespace`` it throttles, if it is one, go with the error, and
    with ``now_ms`` (the time the count was taken in) the seconds until its window ends."""
    if count > allowed:
        raise Throttled(f"Too many requests in the last minute (count: {count}, allowed: {allowed}).", reason=kind,
                        namespace=namespace, retry_after_s=window_left_s(now_ms) if now_ms is not None else None)


# --- activations in flight ---------------------------------------------------------------------------

IN_FLIGHT_FACTOR = 2
IN_FLIGHT_ADDON_MS = 60_000
"""An activation stops counting in flight when its record is produced, or at the latest this long after it was
accepted: ``IN_FLIGHT_FACTOR × max(timeout, 1 min) + IN_FLIGHT_ADDON_MS``, OpenWhisk's completion-ack timeout
(``timeoutFactor`` 2, ``timeoutAddon`` 1 min). The bound is what keeps an activation whose end was never reported
(its message lost) from holding a slot for ever; it leaves room for a cold start and a wait in the queue."""


def in_flight_ttl_ms(timeout_ms: int) -> int:
    """How long an activation of an action with ``timeout_ms`` counts in flight at most."""
    return IN_FLIGHT_FACTOR * max(timeout_ms, 60_000) + IN_FLIGHT_ADDON_MS


CONCURRENT_RETRY_S = 1
"""The ``Retry-After`` of a 429 for activations in flight: a slot frees whenever one of them ends, which nothing
here can foresee, so the hint is the shortest a header can say."""


def check_concurrent(count: int, allowed: int, namespace: str = "") -> None:
    """``count`` is the activations in flight before this one; it passes while ``count < allowed`` (room for the
    current request), as OpenWhisk's ``ConcurrentRateLimit``."""
    if count >= allowed:
        raise Throttled(f"Too many concurrent requests in flight (count: {count}, allowed: {allowed}).",
                        reason="concurrent", namespace=namespace, retry_after_s=CONCURRENT_RETRY_S)
