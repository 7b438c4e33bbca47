"""What an invoker reports about itself (its announcement in the invoker registry), as controllers, the admin
pages and ``squall admin invokers`` show it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_NOT_STATES = frozenset({"used_mb", "capacity_mb"})


@dataclass(frozen=True)
class InvokerStatus:
    name: str
    healthy: bool  # announced itself within its time to live
    queued: int | None = None  # messages waiting in its queue; None when the broker could not say
    containers: dict[str, int] = field(default_factory=dict)  # by state: free (warm), busy, starting, ...
    used_mb: int = 0
    capacity_mb: int = 0
    hostname: str = ""
    configured: bool = True  # in the controller's allow-list (or there is none); else it gets no work from it
    threads: int = 0
    in_flight: int = 0  # activations running on it now
    placements_per_minute: int = 0  # placed on it by every controller in the last full minute
    seen_ms: int = 0  # when it last announced itself (epoch ms)
    dead_letters: int = 0  # activation records not stored as they were since it started (workers.completion)

    @property
    def memory_share(self) -> float:
        return self.used_mb / self.capacity_mb if self.capacity_mb else 0.0

    @classmethod
    def from_report(cls, hostname: str, report: dict[str, Any], queued: int | None) -> InvokerStatus:
        """From an invoker's report: ``{"name", "ready", "pool": {<state>: n, ..., "used_mb", "capacity_mb"},
        "threads", "in_flight", "dead_letters", "at_ms"}``; every integer in ``pool`` other than the two memory
        figures is a count of containers in that state."""
        pool = report.get("pool") or {}
        states = {k: v for k, v in pool.items() if k not in _NOT_STATES and isinstance(v, int)}
        return cls(name=str(report.get("name", hostname)), healthy=bool(report.get("ready", True)), queued=queued,
                   containers=states, used_mb=int(pool.get("used_mb", 0)),
                   capacity_mb=int(pool.get("capacity_mb", report.get("capacity_mb", 0))),
                   hostname=str(report.get("host", hostname)), threads=int(report.get("threads", 0)),
                   in_flight=int(report.get("in_flight", 0)), seen_ms=int(report.get("at_ms", 0)),
                   dead_letters=int(report.get("dead_letters", 0)))
