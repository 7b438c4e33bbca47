"""Action limits and the policy that bounds them (OpenWhisk ``ActionLimits``; reference §5)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from app.core.errors import Invalid


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
