"""How the ``process`` factory confines an action's process tree on Linux, with util-linux's own tools.

Each action process is started through a chain of small wrappers that exec one another, so no Python code
runs between ``fork`` and ``exec`` in the (threaded) invoker, where ``preexec_fn`` is unsafe:

* ``unshare --pid --fork --kill-child --mount-proc --ipc --uts --net`` (plus ``--user --map-root-user`` when not
  root), when the kernel permits it. In its own PID namespace the proxy is PID 1: when it is killed the
  kernel kills every process of the namespace, including ones that left the process group with ``setsid``.
  In its own network namespace the action has a loopback interface and nothing else: no service of this host
  (the store, the broker, Redis, the API's admin pages) and no other host is reachable. Its one way out is the
  API host, through a relay: the proxy listens on ``127.0.0.1:<port>`` inside the namespace and forwards each
  connection to a Unix socket the invoker serves (``workers.factories.relay``), which connects to the API
  host (``__OW_API_HOST`` points at the inside end). ``invoker.process_network = "host"`` turns the namespace
  off, for actions that must reach other hosts (and says so at start).
* ``sh -c SCRATCH_SCRIPT`` in that mount namespace, still privileged: the loopback interface up; the
  container's ``work/`` folder (``HOME``, ``TMPDIR``) becomes a tmpfs the size of the action's memory limit,
  and ``/tmp``, ``/var/tmp``, ``/dev/shm`` and ``/run/lock`` show that same tmpfs, so what an action writes is
  bounded as in a Docker container (read-only image, ``/tmp`` in memory). When the containers' folder itself
  lies under one of them (the default, under ``/tmp``), that one is made read-only instead, with only the
  container's ``work/`` and ``run/`` writable in it.
* ``setpriv --reuid U --regid U --clear-groups --no-new-privs`` when the invoker runs as root: every container
  gets a user id of its own, so the action cannot touch the invoker's files, and ``RLIMIT_NPROC`` (which root
  ignores) counts that container's processes only. Not root: the user namespace gives the same per-container
  process count on Linux 5.14+.
* ``prlimit --as --cpu --nofile --nproc``: address space (the memory limit), CPU seconds, open files,
  processes.

Rlimits apply per process; ``workers.factories.cgroups`` adds a memory and a process limit for the container
as a whole where this invoker may make cgroups (tmpfs pages count against it, as in Docker). What this is not:
a boundary against hostile code like Docker's (no seccomp; the host's files stay readable where their
permissions let any user read them).
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
SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # noqa: S108 - covered, not used
"""Folders any user may write to on a Debian host: in a container each shows its own bounded scratch space."""

# Positional arguments, never interpolated: work, run, size in MB, extra tmpfs options, 1 to bring lo up.
SCRATCH_SCRIPT = r"""
set -eu
work=$1 run=$2 size=$3 owner=$4 net=$5
shift 5
if [ "$net" = 1 ]; then ip link set lo up; fi
mount -t tmpfs -o "size=${size}m,mode=0700,nosuid,nodev${owner}" squall-scratch "$work"
mount --bind "$run" "$run"
for shared in """ + " ".join(SHARED_WRITABLE) + r"""; do
  if [ -L "$shared" ] || [ ! -d "$shared" ]; then continue; fi
  case "$work/" in
    "$shared"/*) mount --rbind "$shared" "$shared"; mount -o remount,bind,ro "$shared" ;;
    *) mount --bind "$work" "$shared" ;;
  esac
done
exec "$@"
"""


class SandboxUnavailable(Exception):
    """The tools this module needs are missing (``prlimit`` at least): not Linux with util-linux."""


@dataclass(frozen=True)
class Scratch:
    """A container's writable space (see the module doc): ``work`` becomes a tmpfs of ``size_mb``."""

    work: str
    run: str
    size_mb: int


@dataclass(frozen=True)
class Limits:
    """Per-process resource limits of one action container."""

    address_space_mb: int
    cpu_s: int
    nofile: int
    nproc: int


class Sandbox:
    """Builds the wrapper command; which confinements are used is decided once by ``probe``."""

    def __init__(self, invoker: str, *, isolate_network: bool = True) -> None:
        missing = [tool for tool in ("prlimit", "unshare", "setpriv", "sh", "mount") if shutil.which(tool) is None]
        if "prlimit" in missing:
            raise SandboxUnavailable("the process factory needs Linux with util-linux (prlimit, unshare, setpriv)")
        self.root = os.geteuid() == 0
        if self.root and "setpriv" in missing:
            raise SandboxUnavailable("running as root, the process factory needs setpriv to drop privileges")
        self.namespaces = "unshare" not in missing
        # A network namespace and the scratch tmpfs, inside the namespaces; the probe turns them off if refused.
        self.private = self.namespaces and "sh" not in missing and "mount" not in missing
        self.isolate_network = isolate_network and shutil.which("ip") is not None
        # Ids of this invoker's containers: a block chosen by its name, so two invokers rarely share one.
        self._uid_first = UID_BASE + (zlib.crc32(invoker.encode()) % 256) * UIDS_PER_INVOKER
        self._free_uids: list[int] = []
        self._next_uid = 0
        self._lock = threading.Lock()

    @property
    def network_isolated(self) -> bool:
        """Whether containers get a network namespace of their own (decided for good by ``probe``)."""
        return self.private and self.isolate_network

    def describe(self) -> str:
        parts = ["rlimits"]
        if self.root:
            parts.append("a user id per container")
        if self.namespaces:
            parts.append("pid/mount/ipc/uts namespaces" + ("" if self.root else " in a user namespace"))
        if self.network_isolated:
            parts.append("a network namespace (the API host only)")
        if self.private:
            parts.append("a scratch tmpfs of the memory limit's size")
        return ", ".join(parts)

    def probe(self, interpreters: Sequence[str], scratch: Scratch) -> str:
        """The first of ``interpreters`` (Python >= 3.11) that runs inside the sandbox; turns the scratch tmpfs
        and network namespace off, then the namespaces, when the kernel refuses them. ``scratch``: empty
        folders to try the tmpfs on. Raises ``SandboxUnavailable`` when nothing runs."""
        check = ["-c", "import sys; sys.exit(sys.version_info < (3, 11))"]
        limits = Limits(address_space_mb=512, cpu_s=10, nofile=64, nproc=64)
        levels = [(True, True), (True, False), (False, False)]
        wanted = [(n, p) for n, p in levels if (self.namespaces or not n) and (self.private or not p)]
        uid = self.acquire_uid()
        if uid is not None:
            for folder in (scratch.work, scratch.run):
                os.chown(folder, uid, uid)
        try:
            for namespaces, private in wanted:
                self.namespaces, self.private = namespaces, private
                for interpreter in dict.fromkeys(interpreters):
                    if _succeeds(self.command([interpreter, *check], uid, limits, scratch)):
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

    def command(self, argv: Sequence[str], uid: int | None, limits: Limits, scratch: Scratch | None = None,
                ) -> list[str]:
        """``argv`` wrapped in the chosen confinements (see the module doc); ``scratch`` is the container's
        writable space, used when the namespaces permit it."""
        chain: list[str] = []
        if self.namespaces:
            chain += ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "--ipc", "--uts"]
            if not self.root:
                chain += ["--user", "--map-root-user"]
            if self.network_isolated:
                chain.append("--net")
            chain.append("--")
            if self.private and scratch is not None:
                owner = f",uid={uid},gid={uid}" if uid is not None else ""
                chain += ["sh", "-c", SCRATCH_SCRIPT, "squall-scratch", scratch.work, scratch.run,
                          str(scratch.size_mb), owner, "1" if self.network_isolated else "0"]
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
