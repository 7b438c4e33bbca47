"""A namespace's throttles (OpenWhisk ``UserLimits``, set with ``wskadmin limits set``): the deployment's
defaults, overridden per namespace by what an operator stored."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from app.core.errors import Invalid

FIELDS = {"invocationsPerMinute": "invocations_per_minute", "firesPerMinute": "fires_per_minute"}
"""The stored (and API) names of the throttles a namespace may override, and ours. (Concurrent invocations are
not counted yet, so they stay deployment-wide.)"""


@dataclass(frozen=True)
class NamespaceLimits:
    invocations_per_minute: int
    fires_per_minute: int

    def overridden(self, stored: dict[str, Any]) -> NamespaceLimits:
        """These limits with the stored overrides applied (unknown or bad values are ignored)."""
        values = {ours: stored[theirs] for theirs, ours in FIELDS.items()
                  if isinstance(stored.get(theirs), int) and not isinstance(stored.get(theirs), bool)
                  and stored[theirs] >= 0}
        return replace(self, **values)

    def to_api(self) -> dict[str, int]:
        ours = asdict(self)
        return {theirs: ours[name] for theirs, name in FIELDS.items()}


def parse_overrides(given: dict[str, Any]) -> dict[str, int]:
    """Validated overrides to store: known names, whole numbers ≥ 0; None or "" drops an override."""
    overrides: dict[str, int] = {}
    for key, value in given.items():
        if key not in FIELDS:
            raise Invalid(f"'{key}' is not a namespace limit; use one of {', '.join(FIELDS)}")
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise Invalid(f"{key} must be a whole number of at least 0, not {value!r}")
        overrides[key] = value
    return overrides
