"""Document stores behind the ``SubjectStore``, ``EntityStore`` and ``ActivationStore`` ports.

``STORES`` maps a store's name (``settings`` chooses one) to the class that implements it, imported only when
``resolve_store`` is asked for it, so an unused store's dependencies are never imported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from app.core.plugins import resolve
from app.core.ports import ActivationStore, AlarmStore, EntityStore, ExpiringActivations, SubjectStore

__all__ = ["STORES", "Store", "open_store", "resolve_store"]

STORES: dict[str, str] = {
    "couchdb": "app.store.couchdb:CouchStore",
    "sqlite": "app.store.sqlite:SqliteStore",
}


class Store(SubjectStore, EntityStore, ActivationStore, ExpiringActivations, AlarmStore, Protocol):
    """What a store class provides: the ports plus its lifecycle."""

    def setup(self) -> None:
        """Create databases, tables and indexes if missing; safe to call again."""

    def close(self) -> None: ...

    @classmethod
    def from_settings(cls, settings: Any) -> Store:
        """The store configured by ``settings`` (a ``config.Settings``: its own section of it)."""


def resolve_store(name: str) -> Callable[..., Store]:
    """The store class named ``name`` (an alias from ``STORES``, or ``package.module:Class``); call it
    with the store's settings. Raises ``Invalid`` for an unknown alias or a class that cannot be imported.
    """
    cls: Callable[..., Store] = resolve(STORES, name, "store")
    return cls


def open_store(settings: Any) -> Store:
    """The store ``settings.store.kind`` names, built from ``settings`` (a ``config.Settings``), set up.

    Raises ``Invalid`` for an unknown store, ``StoreError`` when it cannot be reached or set up.
    """
    cls: Any = resolve_store(settings.store.kind)
    store: Store = cls.from_settings(settings)
    try:
        store.setup()
    except BaseException:
        store.close()
        raise
    return store
