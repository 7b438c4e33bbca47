"""Container factories by name: an alias table and a resolver (cf. kombu's transport aliases).

Factories are imported only when resolved, so docker is needed only by invokers that use it.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any

from workers.factories.base import Container, ContainerFactory, ContainerSpec, LogEntry

__all__ = ["FACTORIES", "Container", "ContainerFactory", "ContainerSpec", "LogEntry", "resolve_factory"]

FACTORIES: dict[str, str] = {
    "docker": "workers.factories.docker:DockerContainerFactory",
}


def resolve_factory(name: str) -> Any:
    """The factory class registered as ``name``, or a ``module:Class`` path. Raises ``KeyError`` with a
    "did you mean" hint for an unknown name."""
    path = FACTORIES.get(name)
    if path is None:
        if ":" not in name:
            close = difflib.get_close_matches(name, FACTORIES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else f" Known: {', '.join(sorted(FACTORIES))}."
            raise KeyError(f"No such container factory: {name!r}.{hint}")
        path = name
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
