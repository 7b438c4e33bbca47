"""Action containers on a Docker Engine, through docker-py's low-level ``APIClient``.

Why low level: the high-level ``containers.create`` adds an inspect and ``run`` adds two more calls;
a cold start is on the critical path of an invocation (docs/dependencies.md). Every docker-py or transport
error is translated here, once, into our ``ContainerStartupError`` family.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import itertools
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import docker
import docker.errors
import requests.exceptions
from docker.types import LogConfig, Ulimit

from app.core.errors import ContainerError, RuntimeStartupError, UserImageStartupError
from config.settings import InvokerSettings
from workers.factories.base import ContainerSpec, LogEntry, container_name
from workers.factories.owner import Owner, left_by_the_dead

ACTION_TMP = "/tmp"  # noqa: S108  # a path inside the action's container (its tmpfs), not on this host
log = logging.getLogger(__name__)

PROXY_PORT = 8080
READY_TIMEOUT_S = 60.0  # how long a runtime image's proxy may take to listen before the start failed
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
LABEL_INVOKER = "squall.invoker"
LABEL_NAMESPACE = "squall.namespace"
LABEL_ACTION = "squall.action"
LABEL_KIND = "squall.kind"
LABEL_PREWARM = "squall.prewarm"
LABEL_OWNER = "squall.owner"  # the invoker process that made it (workers.factories.owner)
BUILTIN_NETWORKS = ("bridge", "host", "none")
# A user-defined bridge for action containers: containers cannot talk to each other (icc off), so one
# user's action cannot call another's proxy; the host (invoker) still reaches every container.
NETWORK_OPTIONS = {"com.docker.network.bridge.enable_icc": "false"}
CGROUP_ROOT = "/sys/fs/cgroup"
# Every way the engine or the transport to it can fail: docker-py's root, requests' root, sockets.
_DOCKER_FAILURES = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)


class DockerContainer:
    """A started container; ``host:port`` is its proxy on the container network."""

    def __init__(self, api: docker.APIClient, container_id: str, name: str, host: str, memory_mb: int,
                 log_path: str | None, oom_files: tuple[str, ...] = ()) -> None:
        self._api = api
        self._id = container_id
        self._name = name
        self._host = host
        self._memory_mb = memory_mb
        self._log_path = log_path
        self._oom_files = oom_files
        self._oom_seen = 0
        self._destroyed = False

    @property
    def id(self) -> str:
        return self._id

    @property
    def name(self) -> str:
        return self._name

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return PROXY_PORT

    @property
    def memory_mb(self) -> int:
        return self._memory_mb

    @property
    def log_path(self) -> str | None:
        return self._log_path

    def api_logs(self, since_ns: int) -> list[LogEntry]:
        # The API merges stdout and stderr without saying which is which: ask for each stream alone.
        since = since_ns / 1e9 if since_ns else None
        entries: list[LogEntry] = []
        try:
            for stream in ("stdout", "stderr"):
                raw = self._api.logs(self._id, stdout=stream == "stdout", stderr=stream == "stderr",
                                     timestamps=True, since=since)
                entries.extend(_parse_api_logs(raw, stream))
        except _DOCKER_FAILURES as e:
            raise ContainerError(f"Cannot read the logs of container {self._name}: {e}") from e
        entries.sort(key=lambda entry: entry.time_ns)
        return [entry for entry in entries if entry.time_ns >= since_ns]

    def pause(self) -> None:
        try:
            self._api.pause(self._id)
        except _DOCKER_FAILURES as e:
            raise ContainerError(f"Cannot pause container {self._name}: {e}") from e

    def resume(self) -> None:
        try:
            self._api.unpause(self._id)
        except _DOCKER_FAILURES as e:
            raise ContainerError(f"Cannot unpause container {self._name}: {e}") from e

    def oom_killed(self) -> bool:
        """The cgroup's ``oom_kill`` counter when this host can read it: Docker's ``State.OOMKilled`` is
        only set when the container's first process dies, and our proxy survives its action's child
        being killed. Else ``State.OOMKilled``, or exit code 137 (SIGKILL) of a stopped container."""
        count = _oom_kills(self._oom_files)
        if count is not None:
            killed = count > self._oom_seen
            self._oom_seen = count
            if killed:
                return True
        try:
            state = self._api.inspect_container(self._id).get("State") or {}
        except _DOCKER_FAILURES:
            return False
        if state.get("OOMKilled"):
            return True
        return count is None and not state.get("Running") and state.get("ExitCode") == 137

    def destroy(self) -> None:
        if self._destroyed:
            return
        self._destroyed = True
        try:
            self._api.remove_container(self._id, force=True)
        except docker.errors.NotFound:
            pass
        except _DOCKER_FAILURES as e:  # never raises: a leftover is removed by the next cleanup()
            log.warning("could not remove container %s: %s", self._name, e)

    def __repr__(self) -> str:
        return f"DockerContainer({self._name}, {self._host}:{PROXY_PORT})"


def _oom_kills(files: tuple[str, ...]) -> int | None:
    """The ``oom_kill`` count of the first readable cgroup file (v1 ``memory.oom_control``, v2
    ``memory.events``), or None when none can be read (another host's engine, another layout)."""
    for path in files:
        try:
            with open(path, encoding="ascii") as file:
                for line in file:
                    name, _, value = line.partition(" ")
                    if name == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


def _cgroup_files(info: dict[str, Any]) -> tuple[str, ...]:
    """Where the engine put the container's memory cgroup, for the drivers and versions we know."""
    container_id = info["Id"]
    parent = ((info.get("HostConfig") or {}).get("CgroupParent") or "").strip("/")
    folders = [f"{parent or 'docker'}/{container_id}", f"system.slice/docker-{container_id}.scope"]
    files = [f"{CGROUP_ROOT}/memory/{folder}/memory.oom_control" for folder in folders]
    files += [f"{CGROUP_ROOT}/{folder}/memory.events" for folder in folders]
    return tuple(files)


def _parse_api_logs(raw: bytes, stream: str) -> list[LogEntry]:
    # Each line is "<RFC3339Nano time> <text>" when asked with timestamps=True.
    out: list[LogEntry] = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        time, _, text = line.partition(" ")
        out.append(LogEntry(time, stream, text))
    return out


class DockerContainerFactory:
    """Starts action containers as OpenWhisk's ``DockerContainerFactory`` does: memory limit with equal swap,
    CPU shares by memory, ``NET_RAW``/``NET_ADMIN`` dropped, 1024 pids and open files, the proxy on port 8080.

    The docker client is made on first use, so an invoker whose engine is down still starts and records
    "Failed to provision resources to run the action." for each activation instead of crashing.
    """

    def __init__(self, settings: InvokerSettings, api_host: str, *, environment: Mapping[str, str] | None = None,
                 timeout_s: float = 60.0, api_host_on_gateway: bool = False) -> None:
        """``api_host`` is the containers' ``__OW_API_HOST``. With ``api_host_on_gateway`` its host is replaced by
        the action network's gateway (scheme and port kept) on the first connection to the engine: for a loopback
        ``api_host``, which inside a container is the container itself."""
        self._settings = settings
        self._api_host = api_host
        self._on_gateway = api_host_on_gateway
        self._environment = dict(environment) if environment is not None else None
        self._timeout_s = timeout_s
        self._ready_timeout_s = READY_TIMEOUT_S
        self._client: docker.DockerClient | None = None
        self._client_lock = threading.Lock()
        self._counter = itertools.count(1)
        self._owner = Owner.current()

    # --- client -------------------------------------------------------------------------------------

    def _api(self) -> docker.APIClient:
        with self._client_lock:
            if self._client is None:
                try:
                    self._probe()
                    self._client = docker.DockerClient.from_env(
                        environment=self._environment, timeout=int(self._timeout_s),
                        max_pool_size=max(self._settings.threads, 10))
                except _DOCKER_FAILURES as e:
                    raise RuntimeStartupError() from e
                try:
                    self._ensure_network(self._client.api)
                    if self._on_gateway:  # before any container is made with it
                        self._api_host = self._gateway_api_host(self._client.api)
                        self._on_gateway = False
                except _DOCKER_FAILURES as e:
                    self._client.close()
                    self._client = None
                    raise RuntimeStartupError() from e
            return self._client.api

    @property
    def api_host(self) -> str:
        """The containers' ``__OW_API_HOST``; with ``api_host_on_gateway``, the one given until the engine answered
        once."""
        return self._api_host

    def _gateway_api_host(self, api: docker.APIClient) -> str:
        network = self._settings.network
        if network in ("host", "none") or network.startswith("container:"):
            return self._api_host  # the host's loopback is the container's, or there is no network at all
        gateway = _gateway(api.inspect_network(network))
        return self._api_host if gateway is None else _with_host(self._api_host, gateway)

    def _ensure_network(self, api: docker.APIClient) -> None:
        """Create the action network if it is ours to create and missing.

        Docker's duplicate check is not atomic: invokers starting together on one host made two networks of one
        name, after which every container start failed ("network ... is ambiguous"). Creating under a host-wide
        file lock prevents that between invokers of this host; and should duplicates exist anyway (another host
        sharing the engine), every invoker keeps the same one (the oldest) and removes the others."""
        name = self._settings.network
        if name in BUILTIN_NETWORKS or name.startswith("container:"):
            return
        with _host_lock(f"squall-network-{name}"):
            if not _networks_named(api, name):
                try:
                    api.create_network(name, driver="bridge", options=NETWORK_OPTIONS, check_duplicate=True,
                                       labels={"squall.role": "actions"})
                except docker.errors.APIError as e:
                    if e.status_code != 409:
                        raise
            found = _networks_named(api, name)
            for extra in found[1:]:
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    api.remove_network(extra["Id"])
                    log.warning("removed a duplicate action network %s (%s)", name, extra["Id"][:12])

    def _probe(self) -> None:
        """Connect once to a unix-socket engine ourselves: docker-py leaks the socket of a failed
        connect, and an engine that is down should cost one quick, clean failure."""
        environment = self._environment if self._environment is not None else os.environ
        host = environment.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
        if host.startswith("unix://"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(min(self._timeout_s, 5.0))
                probe.connect(host.removeprefix("unix://"))

    def bridge(self) -> str:
        """The host interface of the action network (created if missing), for isolation rules."""
        api = self._api()
        try:
            info: dict[str, Any] = api.inspect_network(self._settings.network)
        except _DOCKER_FAILURES as e:
            raise RuntimeStartupError(f"Cannot inspect network {self._settings.network!r}: {e}") from e
        if info.get("Driver") != "bridge":
            raise RuntimeStartupError(f"Network {self._settings.network!r} is not a bridge network.")
        options = info.get("Options") or {}
        return str(options.get("com.docker.network.bridge.name") or ("docker0" if info.get("Name") == "bridge"
                                                                      else f"br-{info['Id'][:12]}"))

    def gateway(self) -> str | None:
        """The host's address on the action network (created if missing): where containers reach the host."""
        api = self._api()
        try:
            return _gateway(api.inspect_network(self._settings.network))
        except _DOCKER_FAILURES as e:
            raise RuntimeStartupError(f"Cannot inspect network {self._settings.network!r}: {e}") from e

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # --- containers ---------------------------------------------------------------------------------

    def create(self, spec: ContainerSpec) -> DockerContainer:
        api = self._api()
        container_id = self._create(api, spec)
        try:
            api.start(container_id)
            info: dict[str, Any] = api.inspect_container(container_id)
            host = self._address(info)
        except _DOCKER_FAILURES as e:
            _remove_quietly(api, container_id)
            if spec.user_image:
                raise UserImageStartupError(f"Failed to start container image '{spec.image}'.") from e
            raise RuntimeStartupError() from e
        if not spec.user_image and not _listening(host, PROXY_PORT, self._ready_timeout_s):
            _remove_quietly(api, container_id)
            raise RuntimeStartupError(f"The action proxy in {info['Name'].lstrip('/')} did not start listening.")
        log_path = info.get("LogPath") or None
        readable = log_path is not None and os.access(log_path, os.R_OK)
        return DockerContainer(api, container_id, info["Name"].lstrip("/"), host, spec.memory_mb,
                               log_path if readable else None, _cgroup_files(info))

    def _create(self, api: docker.APIClient, spec: ContainerSpec) -> str:
        pulled = False
        for _attempt in range(3):
            # Opaque: Docker's DNS on the action network resolves container names for every container on it, so a
            # name must not tell another tenant's action who runs what (the labels say it, to the engine's users).
            name = container_name(self._settings.name, f"{self._owner.token}_{next(self._counter)}", "", "")
            try:
                created: dict[str, Any] = api.create_container(
                    spec.image, name=name, labels=self._labels(spec), host_config=self._host_config(api, spec),
                    environment=self._container_env(spec))
                return str(created["Id"])
            except docker.errors.ImageNotFound as e:
                if not spec.user_image:
                    raise RuntimeStartupError() from e
                if pulled:
                    raise _pull_error(spec) from e
                self._pull(api, spec)  # OpenWhisk pulls blackbox images, never its own
                pulled = True
            except docker.errors.APIError as e:
                if e.status_code == 409:  # a leftover holds the name: take the next counter
                    continue
                raise RuntimeStartupError() from e
            except _DOCKER_FAILURES as e:
                raise RuntimeStartupError() from e
        raise RuntimeStartupError()

    def _pull(self, api: docker.APIClient, spec: ContainerSpec) -> None:
        repository, _, tag = spec.image.rpartition(":") if ":" in spec.image.rsplit("/", 1)[-1] \
            else (spec.image, "", "latest")
        try:
            api.pull(repository, tag=tag)
        except _DOCKER_FAILURES as e:
            raise _pull_error(spec) from e

    def _container_env(self, spec: ContainerSpec) -> dict[str, str]:
        environment = {"__OW_API_HOST": self._api_host}
        if spec.concurrent:
            environment["__OW_ALLOW_CONCURRENT"] = "true"
        return environment

    def _labels(self, spec: ContainerSpec) -> dict[str, str]:
        owner = {LABEL_INVOKER: self._settings.name, LABEL_OWNER: self._owner.label}
        if spec.stem_cell:  # a stem cell keeps these labels (Docker cannot change them) when an action takes it
            return {**owner, LABEL_KIND: spec.kind, LABEL_PREWARM: "true"}
        return {**owner, LABEL_NAMESPACE: spec.namespace, LABEL_ACTION: spec.action, LABEL_KIND: spec.kind}

    def _host_config(self, api: docker.APIClient, spec: ContainerSpec) -> Any:
        # cpu-shares as OpenWhisk: a share of 1024 proportional to the container's part of user memory.
        cpu_shares = max(1024 * spec.memory_mb // self._settings.user_memory_mb, 2)
        return api.create_host_config(
            mem_limit=f"{spec.memory_mb}m", memswap_limit=f"{spec.memory_mb}m", cpu_shares=cpu_shares,
            pids_limit=1024, ulimits=[Ulimit(name="nofile", soft=1024, hard=1024)],
            cap_drop=["NET_RAW", "NET_ADMIN"], security_opt=["no-new-privileges"],
            # What an action writes must not fill the host's disk: the image is read-only and /tmp (where the
            # runtimes unpack code) is a tmpfs, whose pages count against the container's memory limit; the log
            # file is rotated, one older file kept (workers/logs.py reads across the rotation).
            read_only=True, tmpfs={ACTION_TMP: f"size={spec.memory_mb}m,mode=1777,exec"},  # exec: native actions
            log_config=LogConfig(type="json-file", config={"max-size": f"{self._settings.log_file_mb}m",
                                                           "max-file": "2"}),
            network_mode=self._settings.network)

    def _address(self, info: dict[str, Any]) -> str:
        settings = info.get("NetworkSettings") or {}
        network = (settings.get("Networks") or {}).get(self._settings.network) or {}
        address = network.get("IPAddress") or settings.get("IPAddress")
        if not address:
            raise docker.errors.DockerException(
                f"container has no IP address on network {self._settings.network!r}")
        return str(address)

    def cleanup(self) -> None:
        """Remove the containers labelled with this invoker's name that an earlier run left; those of an earlier
        run still draining after SIGTERM (its process alive on this host) are its own to remove."""
        api = self._api()
        try:
            found = api.containers(all=True, filters={"label": f"{LABEL_INVOKER}={self._settings.name}"})
        except _DOCKER_FAILURES as e:
            raise RuntimeStartupError() from e
        for container in found:
            if left_by_the_dead((container.get("Labels") or {}).get(LABEL_OWNER), self._owner):
                _remove_quietly(api, container["Id"])
            else:
                log.info("left %s to the invoker process still draining it", container["Id"][:12])


def _gateway(network: dict[str, Any]) -> str | None:
    """The gateway address of an inspected network (the first address of its subnet when none is recorded)."""
    for config in (network.get("IPAM") or {}).get("Config") or []:
        if config.get("Gateway"):
            return str(config["Gateway"]).split("/")[0]
        if config.get("Subnet"):
            return str(next(ipaddress.ip_network(config["Subnet"], strict=False).hosts()))
    return None


def _with_host(url: str, host: str) -> str:
    """``url`` with its host replaced by ``host`` (an IP address or a name); scheme, port and path kept."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    address = f"[{host}]" if ":" in host else host
    return urlunsplit(parts._replace(netloc=f"{address}:{port}" if port else address))


def _listening(host: str, port: int, timeout_s: float) -> bool:
    """Wait for something to accept TCP connections on ``host:port``: our runtime's proxy booting is the
    platform's time, so it is spent here and not out of the action's init timeout."""
    deadline = time.monotonic() + timeout_s
    pause = 0.002
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            with socket.create_connection((host, port), timeout=remaining):
                return True
        except OSError:  # refused or no route yet: the process or its network is still coming up
            time.sleep(min(pause, max(deadline - time.monotonic(), 0)))  # a boot gives no event to wait on
            pause = min(pause * 2, 0.05)


def _pull_error(spec: ContainerSpec) -> UserImageStartupError:
    return UserImageStartupError(f"Failed to pull container image '{spec.image}'.")


def _remove_quietly(api: docker.APIClient, container_id: str) -> None:
    try:
        api.remove_container(container_id, force=True)
    except _DOCKER_FAILURES as e:
        log.warning("could not remove container %s: %s", container_id[:12], e)


def _networks_named(api: docker.APIClient, name: str) -> list[dict[str, Any]]:
    """The networks called exactly ``name`` (Docker's filter matches substrings), oldest first."""
    found = [n for n in api.networks(names=[name]) if n.get("Name") == name]
    return sorted(found, key=lambda n: (str(n.get("Created", "")), str(n.get("Id", ""))))


@contextlib.contextmanager
def _host_lock(name: str) -> Iterator[None]:
    """A lock every process of this host shares (a ``flock`` on a file in the temporary directory)."""
    path = Path(tempfile.gettempdir()) / f"{name}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
