"""The invoker's remote-control command: its status, for the admin pages' invokers view.

Registered with Celery's control panel when a worker imports this module (``make_celery(worker=True)``).
"""

from __future__ import annotations

from typing import Any

from celery.worker.control import control_command

from tasks import names
from tasks.base import InvokerTask


@control_command(name=names.STATUS)  # type: ignore[misc]
def squall_status(state: Any) -> dict[str, Any]:
    return InvokerTask.status()
