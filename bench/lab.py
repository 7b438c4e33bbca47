"""A lab of several hosts on one machine: each invoker runs in a network namespace of its own, as if on a host of
its own, while the controllers, RabbitMQ, Redis and the CouchDB-API server stay on this host's 127.0.0.1.

Layout (``10.<o>.0.0/16``, the first ``o`` from 200 up that no route or address of this host touches, held by a
lock file while the lab lives)::

    hub     sq<run>0h (a veth pair, both ends here)     10.<o>.0.1   the recorder
    slot k  sq<run><k>h  <->  sq<run><k>n in netns sq<run><k>
            host side 10.<o>.<k>.1/30: a relay process listening on the service ports
            namespace side 10.<o>.<k>.2/30, loopback up, a route to 10.<o>.0.0/16 via 10.<o>.<k>.1 (nothing else)

* **Relays.** The services listen on 127.0.0.1 only (and RabbitMQ lets ``guest`` in from there only), so each
  slot gets a small asyncio TCP relay (``python -m bench.lab relay``: a process of its own, so load
  clients in the test process do not slow the invokers' traffic through the GIL) listening on its host-side
  address and forwarding to 127.0.0.1. An invoker's broker, Redis, CouchDB and API host URLs point at its relay.
  A relay exits when its standard input closes, i.e. with the lab's process.
* **Invokers** run as ``nsenter --net=/run/netns/<ns> squall invoker`` with the ``process`` container factory
  (``ip netns exec`` would also remount /sys, which hides the cgroup hierarchies the factory uses). Their action
  processes inherit the namespace, so a recorder post shows which invoker ran the action, and "the host dies"
  (``kill``) is every process of the namespace killed at once.
* **The recorder**: an HTTP server on the hub address (plus 127.0.0.1) the lab's action posts to after its
  sleep: ``{"id": __OW_ACTIVATION_ID, "start": .., "end": ..}``; it keeps the id, the times and the source address
  (``10.<o>.<k>.2``: slot k's invoker).
* **Cleanup** (``close``, also after a failure): invokers stopped, every process left in the namespaces killed,
  process-factory folders and cgroups removed, namespaces, veths, relays, controllers, the recorder, the lab's
  RabbitMQ queues and registry keys gone. Should the lab's own process be killed, its lock file names what it
  made (run id, host pids, invoker names) and the next lab that takes that network sweeps it first.
* **Calling it**: ``call`` / ``Load`` (closed-loop clients, bounded in time), ``prime`` and ``exactly_once`` (every
  accepted activation has one stored record, readable through the API, and ran at most once), shared by
  ``tests/integration/test_scale_out.py`` and ``bench/scale_out.py``.

Only root can make namespaces: ``unavailable()`` says why a lab cannot be made here. Traffic stays on 127.0.0.0/8
and in the lab's own namespaces.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import fcntl
import ipaddress
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from bench.stack import GUEST_AUTH, SQUALL, StackError, free_port, squall, start, stop, wait_ready
from config import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
OCTETS = range(200, 255)
"""Candidates for the second octet of the lab's 10.x.0.0/16."""
READY_S = 60.0
STOP_S = 30.0
KILL_WAIT_S = 10.0
IDLE_S = 0.05
BIND_ATTEMPTS = 5
STORE_BATCH = 500
MARK = "SQUALL_LAB_RUN"
"""Set in the environment of every process a lab starts, to its run id."""
HANDED_OFF = re.compile(r"handed off (\d+) queued messages of departed invoker (\S+)")

ACTION_CODE = '''\
import json
import os
import time
import urllib.request


def main(args):
    start = time.time()
    time.sleep(float(args.get("s", 0)))
    end = time.time()
    body = json.dumps({"id": os.environ.get("__OW_ACTIVATION_ID", ""), "start": start, "end": end}).encode()
    request = urllib.request.Request(args["recorder"], data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
    return {"ok": True}
'''
"""The lab's action (python:3): sleeps ``s`` seconds, posts its activation id to the recorder, returns ok."""


class LabError(RuntimeError):
    """The lab could not be built or a process of it did not start."""


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    if check and done.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def unavailable() -> str | None:
    """Why a lab cannot be made on this machine, or None when it can (root, ``ip``, ``nsenter``, namespaces)."""
    if os.geteuid() != 0:
        return "the scale-out lab needs root to make network namespaces"
    for tool in ("ip", "nsenter"):
        if shutil.which(tool) is None:
            return f"the scale-out lab needs {tool!r} on PATH"
    probe = f"sqprobe{secrets.token_hex(3)}"
    made = _run("ip", "netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"cannot make a network namespace: {made.stderr.strip()}"
    _run("ip", "netns", "del", probe, check=False)
    return None


# --- the lab's network ------------------------------------------------------------------------------------------


def _used_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network a route (any table) or an address of this host covers, except the default route."""
    found: list[ipaddress.IPv4Network] = []
    routes = _run("ip", "-4", "route", "show", "table", "all").stdout.splitlines()
    for line in routes:
        words = line.split()
        if not words:
            continue
        if words[0] in ("local", "broadcast", "unicast", "unreachable", "blackhole", "prohibit", "throw", "anycast",
                        "multicast", "nat"):
            words = words[1:]
        if not words or words[0] == "default":
            continue
        with contextlib.suppress(ValueError):
            found.append(ipaddress.IPv4Network(words[0], strict=False))
    for line in _run("ip", "-4", "-o", "addr", "show").stdout.splitlines():
        words = line.split()
        if "inet" in words:
            with contextlib.suppress(ValueError, IndexError):
                found.append(ipaddress.IPv4Interface(words[words.index("inet") + 1]).network)
    return found


def _claim_network() -> tuple[int, IO[str]]:
    """A free 10.x.0.0/16 and the lock file that holds it for this lab (another lab skips a held one). A lock file
    left by a lab whose process was killed names what that lab made: it is swept first."""
    for octet in OCTETS:
        path = Path(tempfile.gettempdir()) / f"squall-lab-10.{octet}.lock"
        lock = open(path, "a+")  # noqa: SIM115 - held open for the lab's life
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        lock.seek(0)
        with contextlib.suppress(ValueError):
            _sweep(json.loads(lock.read() or "{}"))
        if any(ipaddress.IPv4Network(f"10.{octet}.0.0/16").overlaps(other) for other in _used_networks()):
            lock.close()
            continue
        return octet, lock
    raise LabError("no free 10.x.0.0/16 for the lab (every candidate overlaps a route or is held by another lab)")


def _sweep(manifest: dict[str, Any]) -> None:
    """Remove what a lab whose process died left (its manifest: run id, host pids, invoker names)."""
    run = str(manifest.get("run") or "")
    if not run:
        return
    prefix = f"sq{run}"
    for line in _run("ip", "netns", "list", check=False).stdout.splitlines():
        netns = line.split()[0] if line.split() else ""
        if netns.startswith(prefix):
            with contextlib.suppress(LabError):
                Lab.kill_namespace(netns)
            _run("ip", "netns", "del", netns, check=False)
    for pid in manifest.get("pids", []):
        if _started_by(int(pid), run):
            with contextlib.suppress(OSError):
                os.killpg(int(pid), signal.SIGKILL)
    for line in _run("ip", "-o", "link", "show", check=False).stdout.splitlines():
        words = line.split()
        name = words[1].rstrip(":").split("@")[0] if len(words) > 1 else ""
        if name.startswith(prefix):
            _run("ip", "link", "del", name, check=False)
    for name in manifest.get("invokers", []):
        with contextlib.suppress(Exception):
            remove_process_leftovers(str(name))
    with contextlib.suppress(Exception):
        _forget(manifest)


def _forget(manifest: dict[str, Any]) -> None:
    """Delete a lab's invoker queues and its deployment's registry keys."""
    import redis

    from tasks.celery_app import make_celery

    if not manifest.get("broker") or not manifest.get("backend") or not manifest.get("prefix"):
        return
    settings = load_settings({"SQUALL_BROKER_URL": manifest["broker"], "SQUALL_RESULT_BACKEND": manifest["backend"]})
    with make_celery(settings).connection_for_write() as conn:
        for name in manifest.get("invokers", []):
            channel = conn.channel()
            try:
                channel.queue_delete(str(name))
            except conn.channel_errors:
                pass
            finally:
                with contextlib.suppress(Exception):
                    channel.close()
    client = redis.Redis.from_url(manifest["backend"], socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"squall:cluster:{manifest['prefix']}:*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _started_by(pid: int, run: str) -> bool:
    """Whether process ``pid`` is one the lab ``run`` started (its environment carries the lab's mark)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"{MARK}={run}".encode() in environ.split(b"\0")


def remove_process_leftovers(name: str, process_dir: str = "") -> None:
    """The ``process`` factory's folder and cgroups of invoker ``name`` (a killed one leaves both); its processes
    must be gone already (killed with its namespace)."""
    from config.settings import InvokerSettings
    from workers.factories.cgroups import Cgroups
    from workers.factories.process import process_root

    shutil.rmtree(process_root(InvokerSettings(name=name, process_dir=process_dir)), ignore_errors=True)
    cgroups = Cgroups(name)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        cgroups.close()
        if not any((Path("/sys/fs/cgroup") / kind / f"squall-{name}").exists() for kind in ("memory", "pids")):
            return
        time.sleep(IDLE_S)  # a killed process leaves its cgroup a moment later


# --- relays ------------------------------------------------------------------------------------------------------


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()  # the other direction then reads EOF and ends too


async def _serve_relay(listen: str, targets: list[tuple[str, int]]) -> None:
    servers: list[asyncio.Server] = []  # kept referenced while serving
    bound: dict[str, int] = {}
    for host, port in targets:
        async def connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                          host: str = host, port: int = port) -> None:
            try:
                up_reader, up_writer = await asyncio.open_connection(host, port)
            except OSError:
                writer.close()
                return
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

        try:  # the service's own port number when it is free on this address, else any
            server = await asyncio.start_server(connect, listen, port, reuse_address=True, backlog=512)
        except OSError:
            server = await asyncio.start_server(connect, listen, 0, reuse_address=True, backlog=512)
        servers.append(server)
        bound[f"{host}:{port}"] = server.sockets[0].getsockname()[1]
    print(json.dumps(bound), flush=True)
    # Serve until the lab closes our standard input (or its process ends), then go at once, connections and all.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)
    os._exit(0)


def relay_main(argv: list[str]) -> None:
    """``python -m bench.lab relay LISTEN HOST:PORT...``: relay each loopback HOST:PORT on LISTEN."""
    parser = argparse.ArgumentParser(prog="lab relay")
    parser.add_argument("listen")
    parser.add_argument("targets", nargs="+")
    args = parser.parse_args(argv)
    targets = []
    for target in args.targets:
        host, _, port = target.rpartition(":")
        if not _loopback(host):
            raise SystemExit(f"the lab relays to loopback addresses only, not {host}")
        targets.append((host, int(port)))
    asyncio.run(_serve_relay(args.listen, targets))


# --- the recorder ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One post of the lab's action: it ran ``activation_id`` from ``source`` between ``start`` and ``end``."""

    activation_id: str
    source: str
    start: float  # epoch seconds, the action's own clock (this machine's)
    end: float
    received: float  # epoch seconds, when the recorder got it


class Recorder:
    """The lab's recorder (see the module doc); thread-safe."""

    def __init__(self, addresses: list[str]) -> None:
        self._lock = threading.Lock()
        self._runs: list[Run] = []
        self._servers: list[ThreadingHTTPServer] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    data = json.loads(body)
                    run = Run(str(data["id"]), self.client_address[0], float(data.get("start", 0)),
                              float(data.get("end", 0)), time.time())
                except (ValueError, KeyError, TypeError):
                    self._answer(400)
                    return
                recorder._add(run)
                self._answer(200)

            def do_GET(self) -> None:
                self._answer(200)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        for _ in range(BIND_ATTEMPTS):  # one port on every address; another process may hold it on one
            servers: list[_RecorderServer] = []
            try:
                port = 0
                for address in addresses:
                    servers.append(_RecorderServer((address, port), Handler))
                    port = servers[0].server_address[1]
                break
            except OSError:
                for server in servers:
                    server.server_close()
        else:
            raise LabError(f"the recorder cannot bind one port on {addresses}")
        for server in servers:
            self._servers.append(server)
            threading.Thread(target=server.serve_forever, name="recorder", daemon=True).start()
        self.port = port
        self.url = f"http://{addresses[0]}:{port}/"

    def _add(self, run: Run) -> None:
        with self._lock:
            self._runs.append(run)

    def runs(self) -> list[Run]:
        with self._lock:
            return list(self._runs)

    def ids(self) -> Counter[str]:
        """How often each activation id was posted (more than once: it ran twice)."""
        return Counter(run.activation_id for run in self.runs())

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()


class _RecorderServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a burst of posts must not overflow the listen backlog (SYN retries cost 1 s)


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """Most intervals open at one moment (an end at the same instant as a start does not overlap it)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
                    key=lambda e: (e[0], e[1]))
    best = current = 0
    for _, step in events:
        current += step
        best = max(best, current)
    return best


# --- the lab ------------------------------------------------------------------------------------------------------


@dataclass
class Slot:
    """One host of the lab: a network namespace, its veth pair and its relay."""

    index: int
    netns: str
    host_veth: str
    host_ip: str
    ns_ip: str
    relay: subprocess.Popen[bytes] | None = None
    ports: dict[str, int] = field(default_factory=dict)  # "127.0.0.1:5672" -> the relay's port on host_ip


@dataclass
class LabInvoker:
    name: str
    slot: Slot
    log: Path
    process: subprocess.Popen[bytes]
    started: float  # epoch seconds (as the recorder's times), when its process was started
    ready: float | None = None  # when it was in the registry and its worker said ready
    ended: float | None = None  # when it was killed or told to stop
    signalled: set[signal.Signals] = field(default_factory=set)

    @property
    def address(self) -> str:
        """Where its actions' connections come from (the recorder's source address)."""
        return self.slot.ns_ip

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class LabController:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


class Lab:
    """A controller or two on this host, invokers in namespaces of their own; see the module doc.

    ``env``: the environment every process starts from (usually ``os.environ``); ``couchdb_url`` a loopback
    CouchDB-API server; ``controller_env`` / ``invoker_env`` extra ``SQUALL_*`` settings for all of them
    (``add_invoker`` takes more per invoker). Use as a context manager, or call ``close`` in a ``finally``.
    """

    def __init__(self, workdir: Path, couchdb_url: str, *, env: Mapping[str, str] | None = None,
                 controller_env: Mapping[str, str] | None = None,
                 invoker_env: Mapping[str, str] | None = None) -> None:
        self.workdir = workdir
        self.run_id = secrets.token_hex(3)
        base = dict(os.environ if env is None else env)
        base.pop("SQUALL_INVOKER_QUEUES", None)  # every announced invoker of this deployment
        self.env: dict[str, str] = {
            **base,
            "SQUALL_COUCHDB_URL": couchdb_url,
            "SQUALL_COUCHDB_PREFIX": f"lab{self.run_id}_",
            "SQUALL_LIMITS_INVOCATIONS_PER_MINUTE": "1000000",
            "SQUALL_LIMITS_CONCURRENT_INVOCATIONS": "1000000",
            "SQUALL_CONTROLLER_WORKERS": "1",
            "SQUALL_CONTROLLER_THREADS": "128",
            MARK: self.run_id,  # how a later lab recognizes this one's processes (``_sweep``)
        }
        self._controller_env = dict(controller_env or {})
        # The lab's actions post to the recorder on the simulated host's network: no namespace of their own.
        self._invoker_env = {"SQUALL_INVOKER_FACTORY": "process", "SQUALL_INVOKER_PROCESS_NETWORK": "host",
                             **(invoker_env or {})}
        self.settings: Settings = load_settings(self.env)
        self.controllers: list[LabController] = []
        self.invokers: dict[str, LabInvoker] = {}
        self.slots: list[Slot] = []
        self.recorder: Recorder | None = None
        self._octet: int | None = None
        self._lock_file: IO[str] | None = None
        self._hub: str | None = None
        self._names = 0
        self._closed = False
        self._registry: Any = None
        self._celery_app: Any = None
        for url in (self.settings.broker.url, self.settings.broker.result_backend, couchdb_url):
            host = urlsplit(url).hostname or ""
            if not _loopback(host):
                raise LabError(f"the lab relays to services on 127.0.0.0/8 only, not {url}")

    # --- life ----------------------------------------------------------------------------------------------------

    def __enter__(self) -> Lab:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, controllers: int = 1) -> None:
        """The network's hub and recorder, the deployment's users, then ``controllers`` controllers."""
        reason = unavailable()
        if reason:
            raise LabError(reason)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._octet, self._lock_file = _claim_network()
        self._save_manifest()
        self._hub = f"sq{self.run_id}0h"
        hub_ip = f"10.{self._octet}.0.1"
        _run("ip", "link", "add", self._hub, "type", "veth", "peer", "name", f"sq{self.run_id}0p")
        _run("ip", "addr", "add", f"{hub_ip}/30", "dev", self._hub)
        _run("ip", "link", "set", self._hub, "up")
        _run("ip", "link", "set", f"sq{self.run_id}0p", "up")
        self.recorder = Recorder([hub_ip, "127.0.0.1"])
        squall(self.env, "admin", "seed")
        for _ in range(controllers):
            self.add_controller()

    def close(self) -> None:
        """Stop and remove everything the lab made; safe to call twice and after a failed start."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self.stop_invokers()
        for slot in self.slots:
            with contextlib.suppress(Exception):
                self.kill_namespace(slot.netns)
        for invoker in self.invokers.values():
            with contextlib.suppress(Exception):
                remove_process_leftovers(invoker.name, self.env.get("SQUALL_INVOKER_PROCESS_DIR", ""))
        for controller in self.controllers:
            with contextlib.suppress(Exception):
                stop(controller.process)
        for slot in self.slots:
            if slot.relay is not None:
                with contextlib.suppress(Exception):
                    self._stop_relay(slot.relay)
            _run("ip", "link", "del", slot.host_veth, check=False)
            _run("ip", "netns", "del", slot.netns, check=False)
        if self._hub is not None:
            _run("ip", "link", "del", self._hub, check=False)
        if self.recorder is not None:
            self.recorder.close()
        with contextlib.suppress(Exception):
            _forget(self._manifest())
        if self._registry is not None:
            with contextlib.suppress(Exception):
                self._registry.close()
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                self._lock_file.truncate(0)  # nothing left to sweep
            self._lock_file.close()

    def _save_manifest(self) -> None:
        """What this lab made, in its lock file, for a later lab to sweep should this process be killed."""
        if self._lock_file is None:
            return
        self._lock_file.seek(0)
        self._lock_file.truncate(0)
        self._lock_file.write(json.dumps(self._manifest()))
        self._lock_file.flush()

    def _manifest(self) -> dict[str, Any]:
        pids = [c.process.pid for c in self.controllers]
        pids += [slot.relay.pid for slot in self.slots if slot.relay is not None]
        pids += [i.process.pid for i in self.invokers.values()]
        return {"run": self.run_id, "pids": pids, "invokers": sorted(self.invokers),
                "broker": self.settings.broker.url, "backend": self.settings.broker.result_backend,
                "prefix": self.settings.couchdb.prefix}

    # --- controllers -------------------------------------------------------------------------------------------

    def add_controller(self) -> LabController:
        """One more controller on 127.0.0.1, on the same deployment (database prefix, registry, broker)."""
        port = free_port()
        env = {**self.env, **self._controller_env, "SQUALL_CONTROLLER_PORT": str(port),
               "SQUALL_CONTROLLER_HOST": "127.0.0.1", "SQUALL_CONTROLLER_API_HOST": f"http://127.0.0.1:{port}"}
        log = self.workdir / f"controller{len(self.controllers)}.log"
        process = start(env, log, "controller")
        controller = LabController(f"http://127.0.0.1:{port}", port, process, log)
        self.controllers.append(controller)
        self._save_manifest()

        def up() -> bool:
            try:
                return httpx.get(controller.url + "/ping", timeout=1.0).status_code == 200
            except httpx.TransportError:
                return False

        try:
            wait_ready(up, "controller", [process], log, READY_S)
        except StackError as e:
            raise LabError(str(e)) from e
        return controller

    def client(self, controller: int = 0, timeout_s: float = 90.0) -> httpx.Client:
        """A guest client of one controller."""
        return httpx.Client(base_url=self.controllers[controller].url, auth=GUEST_AUTH, timeout=timeout_s)

    # --- slots -------------------------------------------------------------------------------------------------

    def _add_slot(self) -> Slot:
        assert self._octet is not None, "start the lab first"
        index = len(self.slots) + 1
        if index > 254:
            raise LabError("a lab has at most 254 hosts")
        slot = Slot(index, f"sq{self.run_id}{index}", f"sq{self.run_id}{index}h", f"10.{self._octet}.{index}.1",
                    f"10.{self._octet}.{index}.2")
        self.slots.append(slot)  # before it is made: close() removes what was made of it
        inner = f"sq{self.run_id}{index}n"
        _run("ip", "netns", "add", slot.netns)
        _run("ip", "link", "add", slot.host_veth, "type", "veth", "peer", "name", inner)
        _run("ip", "link", "set", inner, "netns", slot.netns)
        _run("ip", "addr", "add", f"{slot.host_ip}/30", "dev", slot.host_veth)
        _run("ip", "link", "set", slot.host_veth, "up")
        _run("ip", "-n", slot.netns, "addr", "add", f"{slot.ns_ip}/30", "dev", inner)
        _run("ip", "-n", slot.netns, "link", "set", inner, "up")
        _run("ip", "-n", slot.netns, "link", "set", "lo", "up")
        _run("ip", "-n", slot.netns, "route", "add", f"10.{self._octet}.0.0/16", "via", slot.host_ip)
        targets = sorted({self._target(self.settings.broker.url), self._target(self.settings.broker.result_backend),
                          self._target(self.env["SQUALL_COUCHDB_URL"]),
                          *(f"127.0.0.1:{c.port}" for c in self.controllers)})
        with (self.workdir / f"relay{index}.log").open("wb") as errors:
            slot.relay = subprocess.Popen(
                [sys.executable, "-m", "bench.lab", "relay", slot.host_ip, *targets], cwd=REPO,
                env={**os.environ, MARK: self.run_id}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                start_new_session=True)
        self._save_manifest()
        assert slot.relay.stdout is not None
        line = slot.relay.stdout.readline()  # the relay prints its ports once it listens
        if not line:
            raise LabError(f"the relay of {slot.netns} did not start: "
                           f"{(self.workdir / f'relay{index}.log').read_text(errors='replace')[-2000:]}")
        slot.ports = {key: int(value) for key, value in json.loads(line).items()}
        return slot

    @staticmethod
    def _target(url: str) -> str:
        parts = urlsplit(url)
        default = {"amqp": 5672, "redis": 6379, "http": 80}.get(parts.scheme, 0)
        return f"{parts.hostname}:{parts.port or default}"

    def _through(self, url: str, slot: Slot) -> str:
        """``url`` with its loopback host:port replaced by ``slot``'s relay for it (credentials kept)."""
        parts = urlsplit(url)
        port = slot.ports[self._target(url)]
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = (userinfo + "@" if userinfo else "") + f"{slot.host_ip}:{port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    @staticmethod
    def _stop_relay(relay: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(OSError):
            if relay.stdin is not None:
                relay.stdin.close()
        try:
            relay.wait(timeout=5)
        except subprocess.TimeoutExpired:
            relay.kill()
            relay.wait()
        if relay.stdout is not None:
            relay.stdout.close()

    # --- invokers ----------------------------------------------------------------------------------------------

    def next_name(self) -> str:
        """The name the next ``add_invoker`` gives (to plan placements before it starts)."""
        return f"lab{self.run_id}i{self._names + 1}"

    def add_invoker(self, env: Mapping[str, str] | None = None, *, wait: bool = True) -> LabInvoker:
        """Start one more invoker on a new host (namespace); with ``wait``, return once it is ready."""
        if not self.controllers:
            raise LabError("start a controller first (invokers call the API through their relay)")
        slot = self._add_slot()
        name = self.next_name()
        self._names += 1
        invoker_env = {
            **self.env, **self._invoker_env, **(env or {}),
            "SQUALL_INVOKER_NAME": name,
            "SQUALL_INVOKER_QUEUES": "",
            "SQUALL_BROKER_URL": self._through(self.settings.broker.url, slot),
            "SQUALL_RESULT_BACKEND": self._through(self.settings.broker.result_backend, slot),
            "SQUALL_COUCHDB_URL": self._through(self.env["SQUALL_COUCHDB_URL"], slot),
            "SQUALL_INVOKER_API_HOST": f"http://{slot.host_ip}:{slot.ports[f'127.0.0.1:{self.controllers[0].port}']}",
        }
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(["nsenter", f"--net=/run/netns/{slot.netns}", "--", SQUALL, "invoker"],
                                       env=invoker_env, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        invoker = LabInvoker(name, slot, log, process, time.time())
        self.invokers[name] = invoker
        self._save_manifest()
        if wait:
            self.wait_ready(invoker)
        return invoker

    def wait_ready(self, invoker: LabInvoker, deadline_s: float = READY_S) -> None:
        def ready() -> bool:
            return "ready." in invoker.log.read_text(errors="replace") and invoker.name in self.reports()

        try:
            wait_ready(ready, f"invoker {invoker.name}", [invoker.process], invoker.log, deadline_s)
        except StackError as e:
            raise LabError(str(e)) from e
        invoker.ready = time.time()

    def terminate(self, name: str, *, wait: bool = True) -> None:
        """SIGTERM an invoker's process group (a clean stop: it leaves the registry, finishes what runs, the others
        take its queue); with ``wait``, until it exited (SIGKILL after ``STOP_S``)."""
        invoker = self.invokers[name]
        self._signal(invoker, signal.SIGTERM)
        if wait:
            try:
                invoker.process.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                self.kill(name)

    def kill(self, name: str) -> float:
        """The invoker's host dies: SIGKILL to its process group, then to every process left in its namespace
        (its action processes, which run in sessions of their own). Returns when it died (epoch seconds)."""
        invoker = self.invokers[name]
        died = time.time()
        self._signal(invoker, signal.SIGKILL)
        self.kill_namespace(invoker.slot.netns)
        invoker.process.wait(timeout=KILL_WAIT_S)
        return died

    @staticmethod
    def _signal(invoker: LabInvoker, signum: signal.Signals) -> None:
        """Signal an invoker's process group once per signal: a second SIGTERM is not what an operator sends."""
        if signum in invoker.signalled or invoker.process.poll() is not None:
            return
        invoker.signalled.add(signum)
        invoker.ended = invoker.ended or time.time()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(invoker.process.pid, signum)

    def stop_invokers(self) -> None:
        """Stop every running invoker cleanly, all at once (SIGKILL for any still running after ``STOP_S``), and
        whatever is left in their namespaces; their hosts stay until ``close``."""
        running = [i for i in self.invokers.values() if i.alive]
        for invoker in running:
            self._signal(invoker, signal.SIGTERM)
        deadline = time.monotonic() + STOP_S
        for invoker in running:
            try:
                invoker.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self._signal(invoker, signal.SIGKILL)
                invoker.process.wait(timeout=KILL_WAIT_S)
            self.kill_namespace(invoker.slot.netns)

    @staticmethod
    def kill_namespace(netns: str) -> None:
        """SIGKILL every process in ``netns`` until none is left (bounded)."""
        deadline = time.monotonic() + KILL_WAIT_S
        while time.monotonic() < deadline:
            pids = [int(p) for p in _run("ip", "netns", "pids", netns, check=False).stdout.split()]
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(IDLE_S)  # SIGKILL is delivered asynchronously; nothing to wait on
        raise LabError(f"processes in {netns} outlived SIGKILL for {KILL_WAIT_S} s")

    # --- what the lab sees -----------------------------------------------------------------------------------

    def _celery(self) -> Any:
        if self._celery_app is None:
            from tasks.celery_app import make_celery

            self._celery_app = make_celery(self.settings)
        return self._celery_app

    def registry(self) -> Any:
        """The deployment's invoker registry (``app.core.ports.InvokerRegistry``), read from this host."""
        if self._registry is None:
            from app.wiring import invoker_registry

            self._registry = invoker_registry(self.settings)
        return self._registry

    def reports(self) -> dict[str, dict[str, Any]]:
        """Name → the latest report of each live invoker."""
        reports: dict[str, dict[str, Any]] = self.registry().reports()
        return reports

    def queued(self, name: str) -> int | None:
        """Messages ready in an invoker's queue (None when the queue does not exist)."""
        with self._celery().connection_for_read() as conn:
            channel = conn.channel()
            try:
                _, count, _ = channel.queue_declare(queue=name, passive=True)
                return int(count)
            except conn.channel_errors:
                return None

    def reserved(self, name: str) -> tuple[int, int]:
        """(MB, activations) the controllers have reserved on ``name`` right now: the registry's Redis hash
        (``app.state.registry``: ``squall:cluster:<prefix>:reserved:<name>``, fields ``mb`` and ``n``)."""
        import redis

        client = redis.Redis.from_url(self.settings.broker.result_backend, socket_timeout=5)
        try:
            values = client.hmget(f"squall:cluster:{self.settings.couchdb.prefix}:reserved:{name}", ["mb", "n"])
        finally:
            client.close()
        return int(values[0] or 0), int(values[1] or 0)

    def stored(self, activation_ids: Iterable[str], namespace: str = "guest") -> dict[str, dict[str, Any]]:
        """Activation id → the record the store holds (read from CouchDB itself, not through the API)."""
        url = f"{self.env['SQUALL_COUCHDB_URL'].rstrip('/')}/{self.settings.couchdb.prefix}activations/_all_docs"
        keys = [f"{namespace}/{i}" for i in activation_ids]
        found: dict[str, dict[str, Any]] = {}
        for first in range(0, len(keys), STORE_BATCH):
            response = httpx.post(url, params={"include_docs": "true"}, json={"keys": keys[first:first + STORE_BATCH]},
                                  timeout=30)
            response.raise_for_status()
            for row in response.json()["rows"]:
                doc = row.get("doc")
                if doc:
                    found[str(doc["activationId"])] = doc
        return found

    def handoffs(self) -> dict[str, int]:
        """Departed invoker → how many of its queued messages the others moved (from their logs)."""
        moved: dict[str, int] = defaultdict(int)
        for invoker in self.invokers.values():
            for count, name in HANDED_OFF.findall(invoker.log.read_text(errors="replace")):
                moved[name] += int(count)
        return dict(moved)

    def invoker_at(self, address: str) -> str | None:
        """The invoker whose host has ``address`` (a recorder source), or None."""
        for invoker in self.invokers.values():
            if invoker.address == address:
                return invoker.name
        return None

    def runs_by_invoker(self, ids: set[str] | None = None) -> dict[str, int]:
        """Recorded runs per invoker name (only of ``ids`` when given)."""
        counts: dict[str, int] = defaultdict(int)
        assert self.recorder is not None
        for run in self.recorder.runs():
            if ids is None or run.activation_id in ids:
                counts[self.invoker_at(run.source) or run.source] += 1
        return dict(counts)

    # --- actions -----------------------------------------------------------------------------------------------

    def put_action(self, client: httpx.Client, name: str, memory_mb: int = 256, timeout_ms: int = 60_000) -> None:
        """The lab's action under ``name`` (guest namespace), posting to this lab's recorder."""
        assert self.recorder is not None
        body = {"exec": {"kind": "python:3", "code": ACTION_CODE},
                "parameters": [{"key": "recorder", "value": self.recorder.url}],
                "limits": {"memory": memory_mb, "timeout": timeout_ms}}
        response = client.put(f"/api/v1/namespaces/_/actions/{name}", params={"overwrite": "true"}, json=body)
        if response.status_code != 200:
            raise LabError(f"cannot create action {name}: {response.status_code} {response.text}")


# --- calling the lab ---------------------------------------------------------------------------------------------


SUCCESS = "success"
WHISK_ERROR = "whisk internal error"
RECORDS_S = 60.0
"""Longest wait for records after the load ended."""
POLL_S = 0.25


@dataclass(frozen=True)
class Call:
    """One invoke of the lab's action as its client saw it."""

    action: str
    blocking: bool
    status: int  # 0: no answer
    activation_id: str | None
    sent: float  # epoch seconds
    done: float
    body: dict[str, Any]

    @property
    def waited(self) -> float:
        return self.done - self.sent

    @property
    def cold(self) -> bool:
        """A blocking call's record says its container was initialized for it (no ``initTime``: warm)."""
        return any(a.get("key") == "initTime" for a in self.body.get("annotations", []))


def call(client: httpx.Client, action: str, s: float, *, blocking: bool) -> Call:
    """Invoke the lab's ``action`` (it sleeps ``s`` seconds); never raises for a failed request (status 0)."""
    sent = time.time()
    try:
        response = client.post(f"/api/v1/namespaces/_/actions/{action}",
                               params={"blocking": "true"} if blocking else None, json={"s": s})
        status = response.status_code
        body = response.json() if response.content else {}
    except (httpx.HTTPError, ValueError) as e:
        status, body = 0, {"error": repr(e)}
    if not isinstance(body, dict):
        body = {"body": body}
    activation_id = body.get("activationId")
    return Call(action, blocking, status, str(activation_id) if activation_id else None, sent, time.time(), body)


class Load:
    """``clients`` closed-loop callers (a thread each) of ``actions`` (in turn, or at random with ``shuffle``),
    from now until ``stop()`` or for ``seconds``; each pauses ``pause_s`` between its calls (non-blocking callers
    would otherwise accept far more than the invokers can run)."""

    def __init__(self, lab: Lab, actions: list[str], s: float, clients: int, *, seconds: float,
                 blocking: bool = True, controller: int = 0, shuffle: bool = False, pause_s: float = 0.0) -> None:
        self._lab = lab
        self._actions = actions
        self._s = s
        self._blocking = blocking
        self._controller = controller
        self._shuffle = shuffle
        self._pause_s = pause_s
        self._until = time.time() + seconds
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._pending: dict[int, tuple[str, float]] = {}  # caller -> (action, sent) of its call in flight
        self._threads = [threading.Thread(target=self._client, args=(k,), daemon=True) for k in range(clients)]
        for thread in self._threads:
            thread.start()

    def _client(self, k: int) -> None:
        rng = random.Random(k)
        with self._lab.client(self._controller) as client:
            n = 0
            while not self._stop.is_set() and time.time() < self._until:
                action = rng.choice(self._actions) if self._shuffle else self._actions[(k + n) % len(self._actions)]
                with self._lock:
                    self._pending[k] = (action, time.time())
                result = call(client, action, self._s, blocking=self._blocking)
                n += 1
                with self._lock:
                    del self._pending[k]
                    self._calls.append(result)
                if self._pause_s:
                    self._stop.wait(self._pause_s)  # pacing the caller, not synchronisation

    def stop(self) -> list[Call]:
        """Stop now (each caller ends after its current call); every call made."""
        self._stop.set()
        return self.finish()

    def finish(self, grace_s: float = 90.0) -> list[Call]:
        """Every call, once the callers ended at the end of their ``seconds`` (a call still unanswered
        ``grace_s`` later is counted as one without an answer: status 0)."""
        deadline = self._until + grace_s
        for thread in self._threads:
            thread.join(timeout=max(deadline - time.time(), 0))
        with self._lock:
            hung = [Call(action, self._blocking, 0, None, sent, time.time(),
                         {"error": f"no answer within {time.time() - sent:.0f} s"})
                    for action, sent in self._pending.values()]
            return list(self._calls) + hung


def prime(lab: Lab, action: str) -> None:
    """One blocking call through each controller, alone, before concurrent load starts: the action is warm on its
    home and the lab fails early, and clearly, if a controller cannot place work."""
    for controller in range(len(lab.controllers)):
        with lab.client(controller) as client:
            result = call(client, action, 0, blocking=True)
        if result.status != 200:
            raise LabError(f"priming controller {controller} with {action}: {result.status} {result.body}")


def wait_stored(lab: Lab, ids: set[str], deadline_s: float = RECORDS_S) -> dict[str, dict[str, Any]]:
    """The stored records of ``ids``, once all are there or the deadline passed."""
    deadline = time.time() + deadline_s
    while True:
        found = lab.stored(ids)
        if len(found) == len(ids) or time.time() > deadline:
            return found
        time.sleep(POLL_S)


def wait_recorded(lab: Lab, ids: set[str], deadline_s: float = RECORDS_S) -> None:
    """Until the recorder saw every one of ``ids`` run, or the deadline passed."""
    assert lab.recorder is not None
    deadline = time.time() + deadline_s
    while not ids <= set(lab.recorder.ids()) and time.time() < deadline:
        time.sleep(POLL_S)


def api_records(lab: Lab, ids: set[str]) -> dict[str, tuple[int, dict[str, Any]]]:
    """``GET /activations/{id}`` of each id: (status code, body)."""
    with lab.client() as client, concurrent.futures.ThreadPoolExecutor(8) as pool:
        def get(activation_id: str) -> tuple[str, tuple[int, dict[str, Any]]]:
            try:
                response = client.get(f"/api/v1/namespaces/_/activations/{activation_id}")
                return activation_id, (response.status_code, response.json() if response.content else {})
            except (httpx.HTTPError, ValueError) as e:
                return activation_id, (0, {"error": repr(e)})

        return dict(pool.map(get, sorted(ids)))


def status_of(record: dict[str, Any]) -> str:
    """An activation record's status as the API shows it (``success``, ``whisk internal error``, ...)."""
    return str((record.get("response") or {}).get("status"))


def error_of(record: dict[str, Any]) -> str:
    result = (record.get("response") or {}).get("result") or {}
    return str(result.get("error", "")) if isinstance(result, dict) else ""


def accepted_ids(calls: Iterable[Call]) -> set[str]:
    """Activations the controller took on: a result (200; 502 or 500 for a failed one, as OpenWhisk answers a
    blocking invoke) or an id to look up (202)."""
    return {c.activation_id for c in calls if c.activation_id and c.status in (200, 202, 500, 502)}


@dataclass
class ExactlyOnce:
    """What the store, the API and the recorder say about a set of accepted activations."""

    ids: set[str]
    records: dict[str, dict[str, Any]]  # as the API reads them
    missing: set[str]  # accepted, but no record in the store
    unreadable: dict[str, int]  # GET /activations/{id} did not answer 200 with the record
    twice: dict[str, int]  # ran more than once (recorder)
    not_run: set[str]  # a success record, but the recorder never saw the action run
    statuses: Counter[str]

    @property
    def failures(self) -> list[str]:
        """Each way the exactly-once promise was broken, said in a line (empty: kept)."""
        found = []
        if self.missing:
            found.append(f"{len(self.missing)} accepted activations have no stored record, e.g. "
                         f"{sorted(self.missing)[:5]}")
        if self.unreadable:
            found.append(f"GET /activations/{{id}} failed for {len(self.unreadable)}: "
                         f"{list(self.unreadable.items())[:5]}")
        if self.twice:
            found.append(f"activations that ran more than once: {self.twice}")
        if self.not_run:
            found.append(f"successful records without a run: {sorted(self.not_run)[:5]}")
        return found


def exactly_once(lab: Lab, calls: Iterable[Call], deadline_s: float = RECORDS_S) -> ExactlyOnce:
    """Wait for the records of every accepted call (at most ``deadline_s``), then check them: one stored record
    each, readable through the API, and at most one run each."""
    assert lab.recorder is not None
    ids = accepted_ids(calls)
    stored = wait_stored(lab, ids, deadline_s)
    read = api_records(lab, set(stored))
    records = {i: body for i, (code, body) in read.items() if code == 200}
    unreadable = {i: code for i, (code, body) in read.items() if code != 200 or body.get("activationId") != i}
    ran = lab.recorder.ids()
    return ExactlyOnce(
        ids=ids, records=records, missing=ids - set(stored), unreadable=unreadable,
        twice={i: n for i, n in ran.items() if i in ids and n > 1},
        not_run={i for i, r in records.items() if status_of(r) == SUCCESS and i not in ran},
        statuses=Counter(status_of(r) for r in records.values()),
    )


@contextlib.contextmanager
def open_lab(workdir: Path, couchdb_url: str, *, controllers: int = 1, **kwargs: Any) -> Iterator[Lab]:
    """A started lab with ``controllers`` controllers, closed (everything removed) on leaving."""
    lab = Lab(workdir, couchdb_url, **kwargs)
    try:
        lab.start(controllers)
        yield lab
    finally:
        lab.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["relay"]:
        relay_main(sys.argv[2:])
    else:
        raise SystemExit("usage: python -m bench.lab relay LISTEN HOST:PORT...")
