"""The admin pages' view of invokers: a Celery remote-control status request answered by a running invoker."""

from __future__ import annotations

import pytest

from app.controller.invokers import CeleryInvokerMonitor
from config import load_settings
from tasks.celery_app import make_celery
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


def test_the_invoker_reports_its_pool_over_remote_control(stack: Stack) -> None:
    settings = load_settings(environ=stack.env)
    monitor = CeleryInvokerMonitor(make_celery(settings), (stack.invoker_name, "no-such-invoker"), timeout_s=2.0)
    found = {i.name: i for i in monitor.invokers()}
    ours = found[stack.invoker_name]
    assert ours.healthy and ours.configured and ours.capacity_mb == 2048 and ours.queued is not None
    assert {"free", "busy"} <= ours.containers.keys()
    assert not found["no-such-invoker"].healthy and found["no-such-invoker"].queued is None
