"""The controllers' view of invokers: the running invoker's announcement in the registry (Redis), and the queue
length from RabbitMQ."""

from __future__ import annotations

import pytest

from app.wiring import invoker_registry
from config import load_settings
from tasks.celery_app import make_celery
from tasks.monitor import CeleryInvokerMonitor
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


def test_the_invoker_announces_its_pool_in_the_registry(stack: Stack) -> None:
    settings = load_settings(environ=stack.env)
    registry = invoker_registry(settings)
    try:
        monitor = CeleryInvokerMonitor(make_celery(settings), registry, (stack.invoker_name, "no-such-invoker"))
        found = {i.name: i for i in monitor.invokers()}
    finally:
        registry.close()
    ours = found[stack.invoker_name]
    assert ours.healthy and ours.configured and ours.capacity_mb == 2048 and ours.queued is not None
    assert ours.threads == 4 and ours.seen_ms > 0 and ours.hostname
    assert {"free", "busy"} <= ours.containers.keys()
    assert not found["no-such-invoker"].healthy and found["no-such-invoker"].queued is None
