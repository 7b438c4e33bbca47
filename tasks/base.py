"""The task base class that owns the worker process's one Invoker."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from celery import Task

if TYPE_CHECKING:
    from workers.invoker import Invoker


class InvokerTask(Task):  # type: ignore[misc]
    """Builds the invoker lazily, once per worker process, from the settings the app was made with."""

    _invoker: Invoker | None = None
    _lock = threading.Lock()

    @property
    def invoker(self) -> Invoker:
        if InvokerTask._invoker is None:
            with InvokerTask._lock:
                if InvokerTask._invoker is None:
                    from workers.runtime import build_invoker  # only ever imported inside a worker

                    InvokerTask._invoker = build_invoker(self.app.conf.squall_settings)
        return InvokerTask._invoker

    @classmethod
    def install(cls, invoker: Invoker) -> None:
        """Give the worker process its invoker, built at start so leftovers are cleaned before work arrives."""
        with cls._lock:
            InvokerTask._invoker = invoker

    @classmethod
    def status(cls) -> dict[str, Any]:
        """This process's invoker status, or ``ready: False`` before it is built."""
        invoker = cls._invoker
        return invoker.status() if invoker is not None else {"ready": False}

    @classmethod
    def shutdown(cls, **_: Any) -> None:
        if cls._invoker is not None:
            cls._invoker.close()
            cls._invoker = None
