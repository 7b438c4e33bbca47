"""Document stores behind the ``SubjectStore``, ``EntityStore`` and ``ActivationStore`` ports.

``STORES`` maps a store's name (``settings`` chooses one) to the class that implements it, imported only when
``resolve_store`` is asked for it, so an unused store's dependencies are never imported.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from typing import Protocol

from app.core.errors import Invalid
from app.core.ports import ActivationStore, EntityStore, SubjectStore

__all__ = ["STORES", "Store", "resolve_store"]

STORES: dict[str, str] = {
    "couchdb": "app.store.couchdb:CouchStore",
}


class Store(SubjectStore, EntityStore, ActivationStore, Protocol):
    """What a store class provides: the three ports plus its lifecycle."""

    def setup(self) -> None:
        """Create databases, tables and indexes if missing; safe to call again."""

    def close(self) -> None: ...


def resolve_store(name: str) -> Callable[..., Store]:
    """The store class named ``name`` (an alias from ``STORES``, or ``package.module:Class``); call it
    with the store's settings.

    Raises ``Invalid`` for an unknown alias (suggesting the closest one) or a class that cannot be imported.
    """
    target = STORES.get(name)
    if target is None:
        if ":" not in name:
            close = difflib.get_close_matches(name, STORES, n=1)
            hint = f"Did you mean {close[0]!r}?" if close else f"Known stores: {', '.join(sorted(STORES))}."
            raise Invalid(f"No such store: {name!r}. {hint}")
        target = name
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise Invalid(f"Store {name!r} cannot be loaded: {e}") from e
    try:
        cls: Callable[..., Store] = getattr(module, attribute)
    except AttributeError as e:
        raise Invalid(f"Store {name!r} cannot be loaded: {module_name} has no {attribute!r}") from e
    return cls
