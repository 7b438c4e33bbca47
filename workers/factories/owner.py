"""Which invoker process made a container, so that a restarted invoker leaves a draining predecessor alone.

An operator restarts an invoker by stopping it and starting it again, often without waiting: the old process
still finishes its running activations (SIGTERM drains) while the new one starts under the same name. Both
must then keep their hands off each other's containers: the new one's start-up clean-up removes only
containers whose owner process is gone, and container names carry the owner's token, so the two never pick
the same name or folder (the process factory's folder of one was wiped by the other: issue 15, item 4).
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Owner:
    """A process on a host; ``started`` is its start time in clock ticks since boot (a reused pid differs)."""

    host: str
    pid: int
    started: str

    @classmethod
    def current(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid(), start_time(os.getpid()))

    @property
    def token(self) -> str:
        """Six hex digits naming this owner in container names."""
        return hashlib.sha256(self.label.encode()).hexdigest()[:6]

    @property
    def label(self) -> str:
        return f"{self.host}/{self.pid}/{self.started}"

    @classmethod
    def parse(cls, label: str) -> Owner | None:
        parts = label.rsplit("/", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2])

    def alive(self) -> bool:
        """Whether this owner still runs (only decidable on its own host; elsewhere it counts as gone)."""
        return self.host == socket.gethostname() and start_time(self.pid) == self.started != ""


def start_time(pid: int) -> str:
    """Field 22 of ``/proc/<pid>/stat``, or "" when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return ""
    return fields[19] if len(fields) > 19 else ""


def left_by_the_dead(label: str | None, me: Owner) -> bool:
    """Whether a container labelled ``label`` is a leftover a starting factory of ``me`` may remove: its owner is
    gone, or is this very process (an earlier factory of it, replaced). Containers of an earlier version carry
    no label: leftovers too."""
    owner = Owner.parse(label or "")
    return owner is None or owner == me or not owner.alive()
