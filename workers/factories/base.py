"""The container-factory extension point (OpenWhisk ``ContainerFactory``/``Container`` SPI).

An implementation is chosen by name through ``workers.factories.resolve_factory``. The pool owns the
containers a factory makes; the invoker talks to a container's action proxy over HTTP and reads its
logs through ``log_path`` (or ``api_logs`` when that file cannot be read).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


def container_name(invoker: str, serial: str, namespace: str, action: str) -> str:
    """``squall_<invoker>_<serial>_<ns>_<action>`` with characters docker (and file names) refuse removed;
    ``serial`` is unique among the invoker's containers, also across a restart (``workers.factories.owner``)."""
    def clean(part: str) -> str:
        return _UNSAFE.sub("", part)[:48]
    return f"squall_{clean(invoker)}_{clean(serial)}_{clean(namespace)}_{clean(action)}".rstrip("_.-")


@dataclass(frozen=True)
class ContainerSpec:
    """What to start: the image, its memory, and who it is for (names and labels only)."""

    image: str
    memory_mb: int
    namespace: str  # the invoking namespace
    action: str  # the action's name, for the container's name and labels
    kind: str
    user_image: bool = False  # a blackbox image: failures are the user's, not the platform's
    stem_cell: bool = False  # a prewarmed container for any action of ``kind`` (namespace, action unused)
    concurrent: bool = False  # the kind runs concurrent activations: its proxy is told so (OpenWhisk's
    # ``__OW_ALLOW_CONCURRENT``); the pool still sends only as many as the action's concurrency limit


@dataclass(frozen=True)
class LogEntry:
    """One log line as the engine recorded it: RFC3339Nano time, stream and text without newline."""

    time: str
    stream: str  # "stdout" | "stderr"
    text: str

    @property
    def time_ns(self) -> int:
        return rfc3339_ns(self.time)


def rfc3339_ns(text: str) -> int:
    """Epoch ns of docker's RFC3339Nano UTC time (``2024-05-01T12:00:00.123456789Z``); 0 if not one."""
    try:
        whole, _, fraction = text.rstrip("Z").partition(".")
        seconds = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
        return int(seconds) * 1_000_000_000 + int((fraction or "0").ljust(9, "0")[:9])
    except ValueError:
        return 0


class Container(Protocol):
    """A started container whose action proxy listens on ``host:port``.

    Contract: ``destroy`` is idempotent and never raises; after it the container and its logs are gone.
    """

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def memory_mb(self) -> int: ...

    @property
    def log_path(self) -> str | None:
        """A docker json-file log this process can read, or None: then use ``api_logs``."""

    def api_logs(self, since_ns: int) -> list[LogEntry]:
        """The log lines written at or after ``since_ns`` (epoch ns), oldest first, from the engine's API.

        Raises ``ContainerError`` if the engine cannot be asked."""

    def pause(self) -> None:
        """Freeze every process of the container (``docker pause``); raises ``ContainerError``."""

    def resume(self) -> None:
        """Undo ``pause``; raises ``ContainerError`` (the pool then replaces the container)."""

    def oom_killed(self) -> bool:
        """True if the kernel killed a process of this container for want of memory since the previous
        call (or since it started). Asked after a developer error; never raises."""

    def destroy(self) -> None: ...


class ContainerFactory(Protocol):
    """Makes containers for the pool.

    Requirements every implementation meets (as OpenWhisk's ``ContainerFactory`` states them):
    * ``create`` returns a started container with its memory limited to ``spec.memory_mb``, its proxy
      accepting connections at ``host:port`` (a user's blackbox image may still be booting: the caller
      retries ``/init`` connects within the action's timeout), and ``__OW_API_HOST`` in its environment;
    * a container the platform cannot provide raises ``RuntimeStartupError``; a user (blackbox) image
      that cannot be started raises ``UserImageStartupError``; nothing else escapes;
    * every container it starts is named after the invoker and labelled with the invoker's name (an
      operator can tell whose it is), and ``cleanup`` removes the ones an earlier run left behind;
    * ``close`` releases the factory's own resources (connections), not the containers.
    """

    def create(self, spec: ContainerSpec) -> Container: ...

    def cleanup(self) -> None: ...

    def close(self) -> None: ...
