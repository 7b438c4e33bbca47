"""What an invoker reports about itself, as the admin pages show it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_NOT_STATES = frozenset({"used_mb", "capacity_mb"})


@dataclass(frozen=True)
class InvokerStatus:
    name: str
    healthy: bool  # answered the status request in time
    queued: int | None = None  # messages waiting in its queue; None when the broker could not say
    containers: dict[str, int] = field(default_factory=dict)  # by state: free (warm), busy, starting, ...
    used_mb: int = 0
    capacity_mb: int = 0
    hostname: str = ""
    configured: bool = True  # one of the controller's queues; an invoker outside them gets no work from it

    @property
    def memory_share(self) -> float:
        return self.used_mb / self.capacity_mb if self.capacity_mb else 0.0

    @classmethod
    def from_report(cls, hostname: str, report: dict[str, Any], queued: int | None) -> InvokerStatus:
        """From an invoker's status reply: ``{"name", "pool": {<state>: n, ..., "used_mb", "capacity_mb"}}``;
        every integer in ``pool`` other than the two memory figures is a count of containers in that state."""
        pool = report.get("pool") or {}
        states = {k: v for k, v in pool.items() if k not in _NOT_STATES and isinstance(v, int)}
        return cls(name=str(report.get("name", hostname)), healthy=bool(report.get("ready", True)), queued=queued,
                   containers=states, used_mb=int(pool.get("used_mb", 0)),
                   capacity_mb=int(pool.get("capacity_mb", 0)), hostname=hostname)
