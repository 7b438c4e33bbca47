"""What ``squall standalone``'s options mean as settings: embedded defaults, each one overridable.

``--store sqlite`` (default, a file in the data directory) or ``--store couchdb://host:port`` / ``http(s)://…``;
``--broker amqp://…`` to use Celery as the distributed stack does (default: the in-process dispatcher);
``--containers docker|process`` (default: Docker when the engine answers and has the runtime images).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from app.core.errors import Invalid

STANDALONE_INVOKER = "standalone"
"""Invoker name (container names, the process factory's folder) of the standalone platform."""

CONTAINER_CHOICES = ("docker", "process")


@dataclass(frozen=True)
class StandaloneOptions:
    data_dir: Path
    store: str = "sqlite"
    broker: str | None = None
    containers: str | None = None  # None: decided by ``choose_containers``
    host: str = "127.0.0.1"
    port: int = 3233
    name: str = STANDALONE_INVOKER

    @property
    def api_host(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def in_process(self) -> bool:
        """No broker: the in-process dispatcher runs invocations."""
        return self.broker is None


def store_overrides(store: str, data_dir: Path) -> dict[str, dict[str, Any]]:
    """Settings sections for a ``--store`` value. Raises ``Invalid`` for one we do not know."""
    if store == "sqlite":
        return {"store": {"kind": "sqlite", "path": str(data_dir / "squall.db")}}
    if store.startswith("sqlite:///"):
        return {"store": {"kind": "sqlite", "path": store.removeprefix("sqlite://")}}
    parts = urlsplit(store)
    if parts.scheme in ("couchdb", "http", "https"):
        scheme = "http" if parts.scheme == "couchdb" else parts.scheme
        return {"store": {"kind": "couchdb"}, "couchdb": {"url": urlunsplit((scheme, *parts[1:]))}}
    raise Invalid(f"--store must be sqlite, sqlite:///path, couchdb://host:port or an http(s) CouchDB URL, "
                  f"got {store!r}")


def overrides(options: StandaloneOptions, containers: str) -> dict[str, dict[str, Any]]:
    """Every settings section ``options`` changes, for ``config.load_settings(overrides=...)``."""
    if containers not in CONTAINER_CHOICES:
        raise Invalid(f"--containers must be one of {', '.join(CONTAINER_CHOICES)}, got {containers!r}")
    sections: dict[str, dict[str, Any]] = {
        "controller": {"host": options.host, "port": options.port, "api_host": options.api_host},
        "invoker": {"factory": containers, "name": options.name, "queues": (options.name,)},
        **store_overrides(options.store, options.data_dir),
    }
    if options.broker is not None:
        sections["broker"] = {"url": options.broker}
    return sections
