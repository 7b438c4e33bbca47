"""The one task base class, and what a worker process gives its tasks to work with.

Tasks are thin: they decode a message, call what the process's composition root installed, and encode the
outcome. Each process that runs tasks (an invoker: ``workers.startup``; the scheduler: ``app.scheduler.loop``)
builds its ``WorkerContext`` at start and calls ``SquallTask.install`` before it consumes anything, so leftovers
are cleaned before work arrives and nothing is built lazily inside a task. ``tasks`` imports nothing of
``workers`` or ``app.scheduler``: the context's parts are typed by the Protocols below.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from celery import Task

from app.core.entities import Activation, ActivationMessage, Document
from app.core.services.compositions import CompositionService

T = TypeVar("T")

__all__ = ["ActivationRunning", "AlarmFiring", "NotInstalled", "SquallTask", "WorkerContext"]


class ActivationRunning(Protocol):
    """``workers.completion.ActivationRunner``: an invoker and the steps after each activation."""

    def run(self, message: ActivationMessage, publish_result: Any) -> Activation:
        """Run ``message`` to its end: result published, record stored or kept, composition carried on."""

    def store_record(self, doc: Document) -> None:
        """Store a record an earlier attempt could not. Raises ``StoreError``."""

    def dead_letter(self, doc: Document, why: str) -> None:
        """Give up on a record that could not be stored: logged and counted in the invoker's report."""

    def status(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class AlarmFiring(Protocol):
    """``app.scheduler.firer.AlarmFirer``: fires one claimed alarm through the API."""

    def fire(self, trigger: str, auth_key: str, payload: dict[str, Any], due: int,
             delete_after_fire: bool | str = False) -> None:
        """Raises ``Unavailable`` when the fire may succeed if tried again."""

    def give_up(self, trigger: str, due: int, error: BaseException) -> None: ...

    def close(self) -> None: ...


class NotInstalled(RuntimeError):
    """A task ran in a process that was not started to run it (a bug in how the process was started)."""


@dataclass(frozen=True)
class WorkerContext:
    """What this process's tasks call; a part is None in a process that does not run those tasks."""

    runner: ActivationRunning | None = None
    compositions: CompositionService | None = None
    alarms: AlarmFiring | None = None

    def close(self) -> None:
        for part in (self.runner, self.alarms):
            if part is not None:
                part.close()


class SquallTask(Task):  # type: ignore[misc]
    """Base of every Squall task: reaches the process's installed ``WorkerContext``."""

    _context: WorkerContext | None = None
    _lock = threading.Lock()

    @classmethod
    def install(cls, context: WorkerContext) -> None:
        with cls._lock:
            SquallTask._context = context

    @classmethod
    def uninstall(cls, **_: Any) -> None:
        """Close and forget the context (the worker stopped)."""
        with cls._lock:
            context, SquallTask._context = SquallTask._context, None
        if context is not None:
            context.close()

    @classmethod
    def installed(cls) -> WorkerContext | None:
        return SquallTask._context

    @property
    def runner(self) -> ActivationRunning:
        return _needed(self._context.runner if self._context else None, "invoker", "squall invoker")

    @property
    def compositions(self) -> CompositionService:
        return _needed(self._context.compositions if self._context else None, "composition service",
                       "squall invoker")

    @property
    def alarms(self) -> AlarmFiring:
        return _needed(self._context.alarms if self._context else None, "alarm firer", "squall scheduler")


def _needed(part: T | None, what: str, command: str) -> T:
    if part is None:
        raise NotInstalled(f"this process has no {what} for this task; such tasks run in a process started "
                           f"with `{command}`")
    return part
