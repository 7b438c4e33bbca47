"""How the ``process`` factory confines an action's process tree on Linux, with util-linux's own tools.

Each action process is started through a chain of small wrappers that exec one another, so no Python code
runs between ``fork`` and ``exec`` in the (threaded) invoker, where ``preexec_fn`` is unsafe:

* ``unshare --pid --fork --kill-child --mount-proc --ipc --uts`` (plus ``--user --map-root-user`` when not
  root), when the kernel permits it. In its own PID namespace the proxy is PID 1: when it is killed the
  kernel kills every process of the namespace, including ones that left the process group with ``setsid``.
  No network namespace: actions call the API host on 127.0.0.1 (``__OW_API_HOST``), which a new network
  namespace would cut off (Docker bridges a veth pair for that); so actions reach every local service, which
  ``workers.factories.process.unconfined`` says at start. The invoker reaches a Python proxy on a Unix socket
  in the container's private folder, not on 127.0.0.1.
* ``setpriv --reuid U --regid U --clear-groups --no-new-privs`` when the invoker runs as root: every container
  gets a user id of its own, so the action cannot touch the invoker's files, and ``RLIMIT_NPROC`` (which root
  ignores) counts that container's processes only. Not root: the user namespace gives the same per-container
  process count on Linux 5.14+.
* ``prlimit --as --cpu --nofile --nproc``: address space (the memory limit), CPU seconds, open files,
  processes.

Rlimits apply per process; ``workers.factories.cgroups`` adds a memory and a process limit for the container
as a whole where this invoker may make cgroups. What this is not: a boundary against hostile code like
Docker's (no seccomp, no filesystem view of its own, no network namespace).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

UID_BASE = 1_600_000_000
"""First user id handed to action processes when the invoker is root (far above real and subordinate ids)."""

UIDS_PER_INVOKER = 65_536
PROBE_TIMEOUT_S = 10.0


class SandboxUnavailable(Exception):
    """The tools this module needs are missing (``prlimit`` at least): not Linux with util-linux."""


@dataclass(frozen=True)
class Limits:
    """Per-process resource limits of one action container."""

    address_space_mb: int
    cpu_s: int
    nofile: int
    nproc: int


class Sandbox:
    """Builds the wrapper command; which confinements are used is decided once by ``probe``."""

    def __init__(self, invoker: str) -> None:
        missing = [tool for tool in ("prlimit", "unshare", "setpriv") if shutil.which(tool) is None]
        if "prlimit" in missing:
            raise SandboxUnavailable("the process factory needs Linux with util-linux (prlimit, unshare, setpriv)")
        self.root = os.geteuid() == 0
        if self.root and "setpriv" in missing:
            raise SandboxUnavailable("running as root, the process factory needs setpriv to drop privileges")
        self.namespaces = "unshare" not in missing
        # Ids of this invoker's containers: a block chosen by its name, so two invokers rarely share one.
        self._uid_first = UID_BASE + (zlib.crc32(invoker.encode()) % 256) * UIDS_PER_INVOKER
        self._free_uids: list[int] = []
        self._next_uid = 0
        self._lock = threading.Lock()

    def describe(self) -> str:
        parts = ["rlimits"]
        if self.root:
            parts.append("a user id per container")
        if self.namespaces:
            parts.append("pid/mount/ipc/uts namespaces" + ("" if self.root else " in a user namespace"))
        return ", ".join(parts)

    def probe(self, interpreters: Sequence[str]) -> str:
        """The first of ``interpreters`` (Python >= 3.11) that runs inside the sandbox; turns namespaces off
        when the kernel refuses them. Raises ``SandboxUnavailable`` when none runs."""
        check = ["-c", "import sys; sys.exit(sys.version_info < (3, 11))"]
        limits = Limits(address_space_mb=512, cpu_s=10, nofile=64, nproc=64)
        uid = self.acquire_uid()
        try:
            for namespaces in ((True, False) if self.namespaces else (False,)):
                self.namespaces = namespaces
                for interpreter in dict.fromkeys(interpreters):
                    if _succeeds(self.command([interpreter, *check], uid, limits)):
                        return interpreter
        finally:
            self.release_uid(uid)
        raise SandboxUnavailable(f"no Python 3.11+ runs inside the sandbox (tried {', '.join(interpreters)})")

    def acquire_uid(self) -> int | None:
        """A user id for a new container when root, else None."""
        if not self.root:
            return None
        with self._lock:
            if self._free_uids:
                return self._free_uids.pop()
            self._next_uid += 1
            return self._uid_first + self._next_uid % UIDS_PER_INVOKER

    def release_uid(self, uid: int | None) -> None:
        if uid is not None:
            with self._lock:
                self._free_uids.append(uid)

    def command(self, argv: Sequence[str], uid: int | None, limits: Limits) -> list[str]:
        """``argv`` wrapped in the chosen confinements (see the module doc)."""
        chain: list[str] = []
        if self.namespaces:
            chain += ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "--ipc", "--uts"]
            if not self.root:
                chain += ["--user", "--map-root-user"]
            chain.append("--")
        if uid is not None:
            chain += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs", "--"]
        nproc = limits.nproc
        if not self.root and not self.namespaces:
            nproc += _tasks_of(os.getuid())  # RLIMIT_NPROC then counts every process of this user
        chain += ["prlimit", f"--as={limits.address_space_mb * 1024 * 1024}", f"--cpu={limits.cpu_s}",
                  f"--nofile={limits.nofile}", f"--nproc={nproc}", "--"]
        return [*chain, *argv]


def _succeeds(command: list[str]) -> bool:
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=PROBE_TIMEOUT_S,
                              check=False, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as e:
        log.debug("sandbox probe %s failed: %s", command, e)
        return False
    if done.returncode != 0:
        log.debug("sandbox probe %s exited %s: %s", command, done.returncode, done.stderr[-500:])
    return done.returncode == 0


def _tasks_of(uid: int) -> int:
    """Threads of all processes of ``uid`` (what RLIMIT_NPROC counts)."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", encoding="ascii", errors="replace") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1 ").split()[0]) == uid:
            count += int(fields.get("Threads", "1").strip() or 1)
    return count
