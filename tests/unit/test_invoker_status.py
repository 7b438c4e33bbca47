"""Reading an invoker's status reply, and the command line ``squall flower`` hands to Celery."""

from __future__ import annotations

import click
import pytest

from app.cli.flower import flower_argv
from app.core.invokers import InvokerStatus
from config import load_settings

pytestmark = pytest.mark.unit


def test_every_integer_in_the_pool_report_but_memory_is_a_container_state() -> None:
    report = {"name": "invoker0", "ready": True,
              "pool": {"free": 2, "busy": 1, "prewarm": 3, "paused": 0, "used_mb": 768, "capacity_mb": 2048}}
    status = InvokerStatus.from_report("invoker0@host", report, queued=4)
    assert status.containers == {"free": 2, "busy": 1, "prewarm": 3, "paused": 0}
    assert (status.used_mb, status.capacity_mb, status.queued, status.healthy) == (768, 2048, 4, True)
    assert status.memory_share == 768 / 2048


def test_an_invoker_still_starting_is_not_healthy() -> None:
    assert not InvokerStatus.from_report("h", {"name": "i", "ready": False}, None).healthy


def test_flower_needs_basic_auth_and_follows_the_task_events_setting() -> None:
    with pytest.raises(click.UsageError, match="SQUALL_FLOWER_BASIC_AUTH"):
        flower_argv(load_settings(environ={}))
    argv = flower_argv(load_settings(environ={}, overrides={"flower": {"basic_auth": "op:pw", "port": 5600},
                                                            "broker": {"task_events": True}}))
    assert argv[0] == "flower"
    assert {"--basic-auth=op:pw", "--port=5600", "--enable-events=True"} <= set(argv)
