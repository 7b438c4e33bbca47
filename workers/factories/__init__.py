"""Container factories by name: an alias table and a resolver (cf. kombu's transport aliases).

Factories are imported only when resolved, so docker is needed only by invokers that use it.
"""

from __future__ import annotations

from typing import Any

from app.core.plugins import resolve
from workers.factories.base import Container, ContainerFactory, ContainerSpec, LogEntry

__all__ = ["FACTORIES", "Container", "ContainerFactory", "ContainerSpec", "LogEntry", "resolve_factory"]

FACTORIES: dict[str, str] = {
    "docker": "workers.factories.docker:DockerContainerFactory",
    "process": "workers.factories.process:LocalProcessFactory",
}


def resolve_factory(name: str) -> Any:
    """The factory class registered as ``name``, or a ``module:Class`` path. Raises ``Invalid`` with a
    "did you mean" hint for an unknown name."""
    return resolve(FACTORIES, name, "container factory")
