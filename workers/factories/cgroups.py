"""Memory and process-count cgroups for ``process`` containers, when this invoker may make them.

Rlimits bound each process of a container; a cgroup bounds the container as a whole, as Docker does: its
processes together get ``memory_mb`` of memory and no swap (the kernel's OOM killer ends the biggest one,
which the invoker reports as an action that exited unexpectedly) and ``pids`` tasks. Used when the cgroup v1
``memory`` and ``pids`` hierarchies are writable (root on a cgroup v1 or hybrid host); elsewhere the sandbox
keeps to rlimits. cgroup v2 is not handled yet.

Layout: ``/sys/fs/cgroup/{memory,pids}/squall-<invoker>/<container name>/``. A process joins its cgroups by
writing its own pid into ``cgroup.procs`` (``join_command``) before it execs the rest of the sandbox chain,
so every process it starts is counted from the first.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")
_JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'


class Cgroups:
    def __init__(self, invoker: str, root: Path = ROOT) -> None:
        self._memory = root / "memory" / f"squall-{invoker}"
        self._pids = root / "pids" / f"squall-{invoker}"

    @classmethod
    def detect(cls, invoker: str, root: Path = ROOT) -> Cgroups | None:
        """Cgroups for this invoker if both hierarchies are writable here, else None."""
        cgroups = cls(invoker, root)
        try:
            for folder in (cgroups._memory, cgroups._pids):
                folder.mkdir(exist_ok=True)
        except OSError as e:
            log.info("no cgroups for process containers (%s): rlimits only", e)
            return None
        return cgroups

    @staticmethod
    def unavailable(root: Path = ROOT) -> str | None:
        """Why this invoker could not make its cgroups (without making any), or None when it could."""
        if not (root / "memory").is_dir() or not (root / "pids").is_dir():
            if (root / "cgroup.controllers").exists():
                return "this host has cgroup v2, not handled yet"
            return f"no memory and pids hierarchies in {root}"
        if not all(os.access(root / h, os.W_OK) for h in ("memory", "pids")):
            return f"the memory and pids hierarchies in {root} are not writable here"
        return None

    def create(self, name: str, memory_mb: int, pids: int) -> list[Path]:
        """Make the container's cgroups; returns the ``cgroup.procs`` files its first process must join."""
        memory, tasks = self._memory / name, self._pids / name
        self.remove(name)
        memory.mkdir()
        tasks.mkdir()
        limit = str(memory_mb * 1024 * 1024)
        (memory / "memory.limit_in_bytes").write_text(limit)
        swap = memory / "memory.memsw.limit_in_bytes"  # absent when the kernel does not account swap
        if swap.exists():
            swap.write_text(limit)  # memory + swap = memory: no swap, as Docker's --memory-swap=--memory
        (tasks / "pids.max").write_text(str(pids))
        return [memory / "cgroup.procs", tasks / "cgroup.procs"]

    def oom_kills(self, name: str) -> int:
        """How often the kernel's OOM killer ended a process of the container (``oom_kill`` in
        ``memory.oom_control``, Linux 4.13+); 0 when that cannot be read."""
        try:
            text = (self._memory / name / "memory.oom_control").read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    @staticmethod
    def join_command(procs: list[Path]) -> list[str]:
        """The wrapper that moves itself into ``procs`` and execs the rest of its arguments."""
        return ["/bin/sh", "-c", _JOIN, "sh", *map(str, procs), "--"]

    def remove(self, name: str) -> None:
        """Remove the container's cgroups (they must be empty: call after its processes are gone)."""
        for folder in (self._memory / name, self._pids / name):
            try:
                folder.rmdir()
            except FileNotFoundError:
                pass
            except OSError as e:  # still busy: a process is exiting; the next cleanup takes it
                log.warning("cannot remove cgroup %s: %s", folder, e)

    def cleanup(self) -> None:
        """Remove the cgroups an earlier run left (their processes were killed already)."""
        for parent in (self._memory, self._pids):
            for folder in (p for p in parent.iterdir() if p.is_dir()):
                self.remove(folder.name)

    def close(self) -> None:
        """Remove this invoker's own cgroups once its containers' are gone."""
        self.cleanup()
        for parent in (self._memory, self._pids):
            with contextlib.suppress(OSError):
                parent.rmdir()
