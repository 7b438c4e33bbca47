"""The invoker's remote-control command: its status, for the admin pages' invokers view.

Registered with Celery's control panel when a worker imports this module (``make_celery(worker=True)``).
"""

from __future__ import annotations

from typing import Any

from celery.worker.control import control_command

from tasks import names
from tasks.base import SquallTask


@control_command(name=names.STATUS)
def squall_status(state: Any) -> dict[str, Any]:
    context = SquallTask.installed()
    runner = context.runner if context is not None else None
    return runner.status() if runner is not None else {"ready": False}
