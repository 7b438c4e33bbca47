"""Action "containers" as local sandboxed processes: the same action proxies as the images, without Docker.

A container is one proxy process (``python3 -m actionproxy`` or ``node .../proxy.js``, by the kind's family)
started through ``workers.factories.sandbox`` (own session and process group, PID namespace when permitted, its
own user id when the invoker is root, rlimits, and memory and pids cgroups when this invoker may make them).

Its folder ``<root>/<name>/`` is the invoker's, mode 0750 with the container's own user id as group (0700 when
the invoker is not root): other users cannot enter it, and the action cannot replace what the invoker reads
there. In it, owned by the container's user id and private to it: ``work/`` (working directory, ``HOME`` and
``TMPDIR``) and ``run/``, where the proxy (Python's and Node.js's) listens on the Unix socket ``run/proxy.sock``,
so only the invoker (root, or the same user) and the container itself can send it ``/init`` or ``/run``. Inside the
container's namespaces ``work/`` is a tmpfs the size of its memory limit, its network is loopback only, and the
API host is reached through ``api.sock`` in the root folder (``workers.factories.relay``). Its stdout
and stderr are copied line by line into ``log.json`` (0600, the invoker's) in Docker's json-file shape, so
``workers.logs`` reads them as it reads Docker's. ``destroy`` kills the whole process group (the PID namespace
takes any escapee with it) and removes the directory. Blackbox kinds need an image, so this factory refuses them
with a message that says so.
"""

from __future__ import annotations

import compileall
import contextlib
import fcntl
import hashlib
import itertools
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from app.core.errors import ContainerError, Invalid, RuntimeStartupError, UserImageStartupError
from app.core.manifest import RuntimeManifest
from config import defaults
from config.settings import InvokerSettings, RuntimesSettings
from workers.factories.base import ContainerSpec, LogEntry, container_name
from workers.factories.cgroups import Cgroups
from workers.factories.owner import Owner, left_by_the_dead
from workers.factories.relay import ApiRelay, target_of
from workers.factories.sandbox import Limits, Sandbox, SandboxUnavailable, Scratch
from workers.proxy_client import connect_unix

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
BLACKBOX_REFUSED = ("Blackbox actions (container images) cannot run with the process container factory; "
                    "run Squall with Docker (--containers docker).")
STARTUP_S = 30.0
"""How long a new proxy may take to listen before its start counts as failed."""
PORT_ATTEMPTS = 3  # the free port we picked may be taken before the proxy binds it
CPU_LIMIT_S = 3600
"""RLIMIT_CPU per process: a backstop for a process that escaped its kill; the action timeout is enforced by
the invoker, which destroys a timed-out container. It is a lifetime total, so it must outlast many warm runs."""
NOFILE = 1024
NPROC = 128
NODE_RESERVE_MB = 1024
"""Address space V8 reserves up front (its code range and cages); Node's heap is capped by
``--max-old-space-size`` instead."""
LINE_BYTES = 16 * 1024
"""Longer output lines are split, as Docker's json-file logger splits at 16 KiB."""
LOG_CAP_BYTES = defaults.LIMIT_MAX_LOGS_MB * 1024 * 1024
"""Per stream and activation, more than any action may keep is not written (the collector truncates at the
action's own limit anyway), so a log flood cannot fill the disk."""
SENTINEL = b"XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
PID_FILE = "pid"
OWNER_FILE = "owner"  # the invoker process that made it (workers.factories.owner)
LOG_FILE = "log.json"
RUN_DIR = "run"
SOCKET_FILE = "proxy.sock"
RELAY_FILE = "api.sock"
PROBE_DIR = "probe"
ROOT_PROCESS_DIR = Path("/var/lib/squall")
RELAY_LOW_PORT = 3233
"""Inside port of the API relay when the API host's own is below 1024 (which an action's user may not bind)."""
UNIX_SOCKET_FAMILIES = ("python", "nodejs", "go", "java", "php", "ruby", "rust")
"""Proxies that can listen on a Unix socket (``PROXY_SOCKET``); the others listen on 127.0.0.1."""
CONTAINER_PATH = "/usr/local/bin:/usr/bin:/bin"
LOOP_FAMILIES = ("go", "java", "php", "ruby", "rust")
"""Families whose actions run in the action loop of Python's proxy, by their folder's ``compile`` or ``launch``
(after its ``prepare``, once per change of the folder, where there is one)."""
LOOP_PROGRAMS = ("compile", "launch", "prepare")
LOOP_RESERVE_MB = 1024
"""Address space an action-loop container gets beyond its memory: compilers and virtual machines reserve it."""
PREPARE_TIMEOUT_S = 300
PREPARED_FILES = (".prepared", ".prepare.lock")


def rfc3339_nano(time_ns: int) -> str:
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


class _LogWriter:
    """Copies a process's stdout and stderr into one json-file log, a thread per stream."""

    def __init__(self, path: Path) -> None:
        # 0600: the invoker's alone (it reads the file as root); other users must not read an action's logs.
        self._file = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab", buffering=0)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def follow(self, pipe: IO[bytes], stream: str, name: str) -> None:
        thread = threading.Thread(target=self._pump, args=(pipe, stream), name=f"log-{stream}-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _pump(self, pipe: IO[bytes], stream: str) -> None:
        since_sentinel = 0
        try:
            for raw in iter(lambda: pipe.readline(LINE_BYTES), b""):
                if raw.rstrip(b"\r\n") == SENTINEL:
                    since_sentinel = 0
                else:
                    since_sentinel += len(raw)
                    if since_sentinel > LOG_CAP_BYTES:
                        continue
                record = {"log": raw.decode("utf-8", errors="replace"), "stream": stream,
                          "time": rfc3339_nano(time.time_ns())}
                line = json.dumps(record, ensure_ascii=False).encode() + b"\n"
                with self._lock:
                    self._file.write(line)
        except (OSError, ValueError):  # the pipe or the file was closed under us: the container is going
            pass
        finally:
            pipe.close()

    def close(self, timeout_s: float) -> None:
        for thread in self._threads:
            thread.join(timeout_s)
        with self._lock:
            self._file.close()


class ProcessContainer:
    """One sandboxed proxy process; see the module doc."""

    def __init__(self, name: str, address: tuple[str, int], memory_mb: int, directory: Path,
                 process: subprocess.Popen[bytes], logs: _LogWriter, release: Callable[[], None], namespaced: bool,
                 oom_kills: Callable[[], int] = lambda: 0) -> None:
        self._name = name
        self._host, self._port = address
        self._memory_mb = memory_mb
        self._directory = directory
        self._process = process
        self._logs = logs
        self._release = release
        self._namespaced = namespaced
        self._destroyed = False
        self._lock = threading.Lock()
        self._oom_kills = oom_kills
        self._oom_seen = 0

    @property
    def id(self) -> str:
        return self._name

    @property
    def name(self) -> str:
        return self._name

    @property
    def host(self) -> str:
        """127.0.0.1, or the path of the proxy's Unix socket (``ProxyClient`` speaks both)."""
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def memory_mb(self) -> int:
        return self._memory_mb

    @property
    def pid(self) -> int:
        """The process group (and session) id of the container's processes."""
        return self._process.pid

    @property
    def log_path(self) -> str | None:
        return str(self._directory / LOG_FILE)

    def api_logs(self, since_ns: int) -> list[LogEntry]:
        """The same file, parsed: there is no engine to ask."""
        entries: list[LogEntry] = []
        try:
            with (self._directory / LOG_FILE).open("rb") as file:
                for raw in file:
                    record = json.loads(raw)
                    entry = LogEntry(record["time"], record["stream"], record["log"].rstrip("\r\n"))
                    if entry.time_ns >= since_ns:
                        entries.append(entry)
        except (OSError, ValueError, KeyError) as e:
            raise ContainerError(f"Cannot read the logs of {self._name}: {e}") from e
        return entries

    def pause(self) -> None:
        """Stop every process of the container (SIGSTOP to its process group), as ``docker pause`` freezes."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def oom_killed(self) -> bool:
        """Only with a memory cgroup (root on cgroup v1): without one, rlimits make an allocation fail
        inside the action instead, which it reports itself."""
        kills = self._oom_kills()
        with self._lock:
            killed, self._oom_seen = kills > self._oom_seen, max(kills, self._oom_seen)
        return killed

    def _signal(self, signum: signal.Signals) -> None:
        try:
            os.killpg(self._process.pid, signum)
        except OSError as e:
            raise ContainerError(f"Cannot signal {self._name}: {e}") from e

    def destroy(self) -> None:
        with self._lock:
            if self._destroyed:
                return
            self._destroyed = True
        try:
            _stop(self._process, self._namespaced)
            self._logs.close(timeout_s=2.0)
            shutil.rmtree(self._directory, ignore_errors=True)
        except Exception:  # never raises: cleanup() removes what is left at the next start
            log.exception("destroying %s failed", self._name)
        finally:
            self._release()

    def __repr__(self) -> str:
        return f"ProcessContainer({self._name}, {self._host}:{self._port}, pid {self._process.pid})"


@dataclass(frozen=True)
class _Launch:
    argv: list[str]
    env: dict[str, str]
    address_space_mb: int


class LocalProcessFactory:
    """Implements ``ContainerFactory`` with local processes (see the module doc).

    The sandbox is probed once, by ``cleanup`` at the invoker's start or else on first use (which
    confinements the kernel permits, which Python runs in it), so constructing the factory never fails.
    """

    def __init__(self, settings: InvokerSettings, api_host: str, *, runtimes_dir: Path | None = None,
                 proxy_env: Mapping[str, str] | None = None) -> None:
        self._settings = settings
        self._proxy_env = dict(proxy_env or {})  # e.g. PROXY_ALLOW_REINIT, for the protocol contract
        self._api_host = api_host
        self._source = runtimes_dir or RuntimesSettings().directory
        self._root = process_root(settings)
        self._counter = itertools.count(1)
        self._owner = Owner.current()
        self._lock = threading.Lock()
        self._sandbox: Sandbox | None = None
        self._cgroups: Cgroups | None = None
        self._python = ""
        self._proxies: dict[str, Path] = {}
        self._manifest: RuntimeManifest | None = None  # read on the first action-loop kind
        self._relay: ApiRelay | None = None

    # --- set-up ---------------------------------------------------------------------------------------

    def _ready_sandbox(self) -> Sandbox:
        with self._lock:
            if self._sandbox is None:
                try:
                    sandbox = Sandbox(self._settings.name, isolate_network=self._settings.process_network == "isolated")
                    self._root.mkdir(parents=True, exist_ok=True)
                    self._root.chmod(0o711)  # actions running as other users must reach their own directory
                    if sandbox.root:
                        _require_traversable(self._root)
                    wanted = sandbox.describe()
                    self._python = self._probe(sandbox)
                    if sandbox.describe() != wanted:
                        log.warning("process containers: this kernel refused part of the sandbox; confined by %s "
                                    "instead of %s", sandbox.describe(), wanted)
                    self._relay = self._start_relay(sandbox)
                except (SandboxUnavailable, OSError) as e:
                    raise RuntimeStartupError(f"The process container factory cannot start: {e}") from e
                self._cgroups = Cgroups.detect(self._settings.name) if sandbox.root else None
                log.info("process containers in %s, confined by %s%s, Python %s", self._root, sandbox.describe(),
                         ", memory and pids cgroups" if self._cgroups else "", self._python)
                self._sandbox = sandbox
            return self._sandbox

    def _probe(self, sandbox: Sandbox) -> str:
        probe = self._root / PROBE_DIR
        shutil.rmtree(probe, ignore_errors=True)
        for folder in (probe / "work", probe / RUN_DIR):
            folder.mkdir(parents=True, mode=0o700)
        try:
            return sandbox.probe(self._interpreters(), Scratch(str(probe / "work"), str(probe / RUN_DIR), 16))
        finally:
            shutil.rmtree(probe, ignore_errors=True)

    def _start_relay(self, sandbox: Sandbox) -> ApiRelay | None:
        target = target_of(self._api_host)
        if not sandbox.network_isolated or target is None:
            return None
        relay = ApiRelay(self._root / RELAY_FILE, target)
        relay.start()
        return relay

    def _api_env(self) -> dict[str, str]:
        """How actions reach the API host: as configured, or through the relay inside their namespace."""
        target = target_of(self._api_host)
        if self._relay is None or target is None:
            return {"__OW_API_HOST": self._api_host}
        port = target[1] if target[1] >= 1024 else RELAY_LOW_PORT
        scheme = self._api_host.split("://", 1)[0]
        return {"__OW_API_HOST": f"{scheme}://127.0.0.1:{port}", "PROXY_API_RELAY": str(self._relay.path),
                "PROXY_API_RELAY_PORT": str(port)}

    def _interpreters(self) -> list[str]:
        """This Python first; as root also the system's, since an unprivileged user may not reach ours."""
        found = [sys.executable, getattr(sys, "_base_executable", sys.executable)]
        found += [p for p in ("/usr/bin/python3", shutil.which("python3")) if p]
        return [os.path.realpath(p) for p in found]

    def _proxy_dir(self, family: str, sandbox: Sandbox, *, proxy: bool = True) -> Path:
        """The family's proxy folder (or, with ``proxy=False``, its action-loop folder); as root, a world-readable
        copy (the checkout may be under /root)."""
        with self._lock:
            if family not in self._proxies:
                source = self._source / family
                if proxy and not (source / "actionproxy").is_dir():
                    raise RuntimeStartupError(f"No action proxy for the {family!r} family in {self._source}.")
                if not proxy and (source / "prepare").is_file():
                    _prepare(source)  # before the copy, so that the copy has what it made
                if sandbox.root:
                    copy = self._root / "runtimes" / family
                    shutil.rmtree(copy, ignore_errors=True)
                    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("Dockerfile", "__pycache__"))
                    # Compiled once here: the action's user cannot write __pycache__ into a root-owned copy.
                    compileall.compile_dir(copy, quiet=1)
                    for path in (self._root / "runtimes", copy, *copy.rglob("*")):
                        executable = path.is_dir() or path.name in LOOP_PROGRAMS
                        path.chmod(0o755 if executable else 0o644)
                    source = copy
                self._proxies[family] = source
            return self._proxies[family]

    def _loop_launch(self, spec: ContainerSpec, family: str, sandbox: Sandbox, env: dict[str, str]) -> _Launch:
        """Python's proxy running the family's executable in the action loop (``PROXY_RUNNER=loop``), with the
        family folder's ``compile`` or ``launch``, as the family's image does."""
        missing = [tool for tool in self._tools(spec.kind) if shutil.which(tool, path=env["PATH"]) is None]
        if missing:
            raise RuntimeStartupError(
                f"The {spec.kind} kind needs {', '.join(missing)} on this host for the process factory: install "
                f"it (docs/runtimes.md names the Debian packages) or run actions in Docker (--containers docker).")
        folder = self._proxy_dir(family, sandbox, proxy=False)
        env.update(PYTHONPATH=str(self._proxy_dir("python", sandbox)), PYTHONUNBUFFERED="1",
                   PYTHONDONTWRITEBYTECODE="1", PROXY_RUNNER="loop", PROXY_WAIT_FOR_ACK="1",
                   SQUALL_ACTION_MEMORY_MB=str(spec.memory_mb))  # a JVM sizes its heap by it, not by the host
        if (folder / "compile").is_file():
            env["PROXY_COMPILER"] = str(folder / "compile")
        else:
            env["PROXY_LAUNCHER"] = str(folder / "launch")
        # Compilers and language runtimes reserve address space far beyond what they use (Go's toolchain
        # especially): the cgroup, where there is one, holds the memory; the rlimit only stops runaways.
        return _Launch([self._python, "-m", "actionproxy"], env, spec.memory_mb + LOOP_RESERVE_MB)

    def _tools(self, kind: str) -> tuple[str, ...]:
        with self._lock:
            if self._manifest is None:
                self._manifest = RuntimeManifest.load(self._source / "manifest.json")
        try:
            return self._manifest.runtime(kind).tools
        except Invalid:
            return ()

    def _launch(self, spec: ContainerSpec, sandbox: Sandbox, work: Path, address: tuple[str, int]) -> _Launch:
        family = spec.kind.split(":", 1)[0]
        proxy = self._proxy_dir("python" if family in LOOP_FAMILIES else family, sandbox)
        host, port = address
        listen = {"PROXY_SOCKET": host} if host.startswith("/") else {"PROXY_HOST": host, "PROXY_PORT": str(port)}
        env = {
            "PATH": CONTAINER_PATH,
            "HOME": str(work),
            "TMPDIR": str(work),
            "LANG": "C.UTF-8",
            **listen,
            "PROXY_WORK_DIR": str(work),
            **self._api_env(),
            # glibc reserves 64 MB of address space per thread arena: under RLIMIT_AS that is memory lost.
            "MALLOC_ARENA_MAX": "2",
            **self._proxy_env,
        }
        if family == "python":
            env.update(PYTHONPATH=str(proxy), PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
            return _Launch([self._python, "-m", "actionproxy"], env, spec.memory_mb)
        if family in LOOP_FAMILIES:
            return self._loop_launch(spec, family, sandbox, env)
        if family == "nodejs":
            node = shutil.which("node")
            if node is None:
                raise RuntimeStartupError("The nodejs family needs node on PATH for the process factory.")
            env["NODE_OPTIONS"] = f"--max-old-space-size={spec.memory_mb}"
            return _Launch([node, str(proxy / "actionproxy" / "proxy.js")], env, spec.memory_mb + NODE_RESERVE_MB)
        raise RuntimeStartupError(f"The process factory does not know how to start the {family!r} proxy.")

    # --- containers -----------------------------------------------------------------------------------

    def create(self, spec: ContainerSpec) -> ProcessContainer:
        if spec.user_image:
            raise UserImageStartupError(BLACKBOX_REFUSED)
        sandbox = self._ready_sandbox()
        serial = f"{self._owner.token}_{next(self._counter)}"
        name = container_name(self._settings.name, serial, spec.namespace, spec.action)
        directory = self._root / name
        uid = sandbox.acquire_uid()
        try:
            work = self._make_directory(directory, uid)
            return self._start(spec, sandbox, name, directory, work, uid)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            sandbox.release_uid(uid)
            raise

    def _make_directory(self, directory: Path, uid: int | None) -> Path:
        """The container's folder (see the module doc); returns its ``work`` folder."""
        try:
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(mode=0o700)
            (directory / OWNER_FILE).write_text(self._owner.label)  # before anything runs: see cleanup()
            if uid is not None:
                os.chown(directory, 0, uid)
                directory.chmod(0o750)  # the container's user may enter, not write; others may not enter
            work = directory / "work"
            for private in (work, directory / RUN_DIR):
                private.mkdir(mode=0o700)
                if uid is not None:
                    os.chown(private, uid, uid)
        except OSError as e:
            raise RuntimeStartupError(f"Cannot make the scratch directory {directory}: {e}") from e
        return work

    def _start(self, spec: ContainerSpec, sandbox: Sandbox, name: str, directory: Path, work: Path,
               uid: int | None) -> ProcessContainer:
        cgroups = self._cgroups

        def release() -> None:
            if cgroups is not None:
                cgroups.remove(name)
            sandbox.release_uid(uid)

        unix = spec.kind.split(":", 1)[0] in UNIX_SOCKET_FAMILIES
        for attempt in range(1, PORT_ATTEMPTS + 1):
            address = (str(directory / RUN_DIR / SOCKET_FILE), 0) if unix else (HOST, _free_port())
            launch = self._launch(spec, sandbox, work, address)
            limits = Limits(address_space_mb=launch.address_space_mb, cpu_s=CPU_LIMIT_S, nofile=NOFILE, nproc=NPROC)
            logs = _LogWriter(directory / LOG_FILE)
            try:
                scratch = Scratch(str(work), str(directory / RUN_DIR), spec.memory_mb)
                command = sandbox.command(launch.argv, uid, limits, scratch)
                if cgroups is not None:
                    command = [*cgroups.join_command(cgroups.create(name, spec.memory_mb, NPROC)), *command]
                process = subprocess.Popen(
                    command, cwd=work, env=launch.env, stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, close_fds=True)
            except OSError as e:
                logs.close(0)
                if cgroups is not None:
                    cgroups.remove(name)
                raise RuntimeStartupError(f"Cannot start the action proxy: {e}") from e
            assert process.stdout is not None and process.stderr is not None
            logs.follow(process.stdout, "stdout", name)
            logs.follow(process.stderr, "stderr", name)
            (directory / PID_FILE).write_text(f"{process.pid} {_start_time(process.pid)}\n")
            container = ProcessContainer(
                name, address, spec.memory_mb, directory, process, logs, release, sandbox.namespaces,
                (lambda: cgroups.oom_kills(name)) if cgroups is not None else (lambda: 0))
            if _wait_listening(address, process):
                return container
            _stop(process, sandbox.namespaces)
            logs.close(timeout_s=2.0)
            if cgroups is not None:
                cgroups.remove(name)
            tail = (directory / LOG_FILE).read_text(errors="replace")[-2000:]
            log.warning("proxy %s exited before listening (attempt %d): %s", name, attempt, tail)
            (directory / LOG_FILE).unlink(missing_ok=True)
        raise RuntimeStartupError(f"The action proxy for {spec.kind} did not start.")

    def cleanup(self) -> None:
        """Kill the process groups an earlier run of this invoker left (by their pid files) and remove
        their directories. Also probes the sandbox now, at start, rather than on the first activation."""
        self._ready_sandbox()
        for directory in self._root.iterdir():
            if directory.name == "runtimes" or not directory.is_dir():
                continue
            try:
                owner = (directory / OWNER_FILE).read_text()
            except OSError:
                owner = None
            if not left_by_the_dead(owner, self._owner):
                log.info("left %s to the invoker process still draining it", directory.name)
                continue
            try:
                pid, started = (directory / PID_FILE).read_text().split()
                if _start_time(int(pid)) == started:  # the same process, not a reused pid
                    _kill_leftover(int(pid))
            except (OSError, ValueError):
                pass
            shutil.rmtree(directory, ignore_errors=True)
        if self._cgroups is not None:
            self._cgroups.cleanup()

    def close(self) -> None:
        """Remove this factory's own cgroups (empty once its containers are destroyed) and stop the relay."""
        if self._cgroups is not None:
            self._cgroups.close()
        if self._relay is not None:
            self._relay.close()

    @property
    def root(self) -> Path:
        """The folder of this factory's containers."""
        return self._root


def process_root(settings: InvokerSettings) -> Path:
    """The folder of an invoker's process containers: ``invoker.process_dir``, else, as root,
    ``/var/lib/squall/<invoker name>`` (outside the shared writable folders, so each container's ``/tmp`` can be
    its own bounded tmpfs), else ``<system temp>/squall-<invoker name>`` (``/tmp`` read-only in containers)."""
    if settings.process_dir:
        return Path(settings.process_dir)
    if os.geteuid() == 0:
        return ROOT_PROCESS_DIR / settings.name
    return Path(tempfile.gettempdir()) / f"squall-{settings.name}"


def unconfined(settings: InvokerSettings, services: list[str]) -> list[str]:
    """What process containers on this host do not confine, one sentence each, for a warning at start.

    ``services``: what listens on this host that actions must not reach (the API and admin pages, the broker,
    the store), as the caller knows them. Decided without starting anything: the factory probes at its start."""
    root = process_root(settings)
    namespaces = all(shutil.which(tool) for tool in ("unshare", "sh", "mount"))
    found: list[str] = []
    if settings.process_network == "host" or not namespaces or shutil.which("ip") is None:
        shared = ("invoker.process_network is 'host'" if settings.process_network == "host"
                  else "no unshare or ip here to give them a network namespace")
        found.append(f"process containers share this host's network ({shared}): actions can connect to every service "
                     f"listening on this host, 127.0.0.1 included ({', '.join(services)}, and Redis, RabbitMQ, "
                     f"CouchDB or any other service running here), and to any network it reaches; run with Docker "
                     f"(--containers docker) or invoker.process_network 'isolated' to confine them")
    if not namespaces:
        found.append("process containers write to this host's disk without a bound (no unshare or mount here for a "
                     "scratch tmpfs): an action can fill its folder and /tmp")
    found.append("process containers see this host's filesystem: actions can read every file on it that other users "
                 "may read, and there is no seccomp filter")
    if os.geteuid() != 0:
        found.append(f"the invoker is not root: every process container runs as its user (uid {os.getuid()}), so "
                     f"an action can read and change other containers' files and logs under {root}, signal their "
                     f"processes and send /init or /run to their proxies")
    else:
        why = Cgroups.unavailable()
        if why is not None:
            found.append(f"no memory or pids cgroup per process container ({why}): the memory and process limits "
                         f"apply to each process, so an action that forks can use more memory than its limit")
    if shutil.which("unshare") is None:
        found.append("no PID namespace (unshare is missing): a process an action starts in a session of its own "
                     "can outlive its container")
    return found


def _prepare(folder: Path) -> None:
    """Run an action-loop family's ``prepare`` (Java compiles its launcher, Rust its crates) unless it already ran
    on the folder's present files: a stamp holds their hash, so invokers and their restarts prepare once per
    change, and a lock keeps two invokers on one host from preparing at once. Refuses the kind when it fails."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.name not in PREPARED_FILES):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    stamp = folder / ".prepared"
    try:
        with open(folder / ".prepare.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if stamp.is_file() and stamp.read_text() == digest.hexdigest():
                return
            # The containers' PATH: what prepare builds (Rust's crates) must match the toolchain actions get.
            done = subprocess.run([str(folder / "prepare")], capture_output=True, text=True, check=False,
                                  timeout=PREPARE_TIMEOUT_S, env={**os.environ, "PATH": CONTAINER_PATH})
            if done.returncode != 0:
                raise RuntimeStartupError(f"Cannot prepare {folder.name} actions: {folder / 'prepare'} said: "
                                          f"{(done.stderr or done.stdout).strip()[-500:]}")
            stamp.write_text(digest.hexdigest())
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeStartupError(f"Cannot prepare {folder.name} actions in {folder}: {e}") from e


def _require_traversable(directory: Path) -> None:
    """Actions run as other users: every folder above their scratch directories must let others through."""
    for folder in (directory, *directory.parents):
        if not folder.stat().st_mode & 0o001:
            raise OSError(f"{folder} is not searchable by other users, so actions running as their own users "
                          f"cannot reach {directory}; set invoker.process_dir elsewhere (e.g. under /tmp)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(address: tuple[str, int], process: subprocess.Popen[bytes]) -> bool:
    """True once the proxy accepts connections; False if it exited (or hung) first."""
    deadline = time.monotonic() + STARTUP_S
    pause = 0.002
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if address[0].startswith("/"):
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                    sock.settimeout(1.0)
                    connect_unix(sock, address[0])
                return True
            with socket.create_connection(address, timeout=1.0):
                return True
        except OSError:
            time.sleep(pause)  # polling a process that is starting up; there is nothing to wait on
            pause = min(pause * 2, 0.05)
    return False


def _stop(process: subprocess.Popen[bytes], namespaced: bool) -> None:
    """Kill a container's processes and reap them.

    In a PID namespace, ``unshare`` waits for the namespace's init (the proxy): kill that first, so the kernel
    kills the rest of the namespace and ``unshare`` reaps the init rather than leaving a zombie to the host's
    init. Then the whole process group, for anything outside a namespace.
    """
    if namespaced:
        for child in _children(process.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
    _kill_group(process.pid)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        log.warning("process group %d did not exit after SIGKILL", process.pid)


def _kill_leftover(pgid: int) -> None:
    """Kill a process group of an earlier run (not our child, so nothing to reap) and wait until it is gone."""
    for child in _children(pgid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child, signal.SIGKILL)
    _kill_group(pgid)
    deadline = time.monotonic() + 10
    while _living_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)  # SIGKILL is delivered asynchronously; there is no handle to wait on


def _living_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that have not exited (zombies count as exited)."""
    members = []
    for entry in os.scandir("/proc"):
        fields = _stat(entry.name) if entry.name.isdigit() else []
        if fields and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def _stat(pid: int | str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (state first), or [] when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as children:
            return [int(child) for child in children.read().split()]
    except OSError:
        return []


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _start_time(pid: int) -> str:
    """Field 22 of /proc/<pid>/stat: tells a process from a later one with the same pid."""
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else "gone"

