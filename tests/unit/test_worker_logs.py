"""The invoker's per-task log lines (Celery's "received"/"succeeded", httpx's per request) below DEBUG only."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from workers.startup import PER_TASK_LOGGERS, quiet_per_task_logs

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    levels = {name: logging.getLogger(name).level for name in PER_TASK_LOGGERS}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize("level", ["INFO", "info", "WARNING"])
def test_per_task_lines_are_off_at_info_and_above_but_warnings_still_show(level: str) -> None:
    for name in PER_TASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    quiet_per_task_logs(level)
    for name in PER_TASK_LOGGERS:
        logger = logging.getLogger(name)
        assert not logger.isEnabledFor(logging.INFO)
        assert logger.isEnabledFor(logging.WARNING)


def test_debug_keeps_every_line() -> None:
    for name in PER_TASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    quiet_per_task_logs("DEBUG")
    assert all(logging.getLogger(name).level == logging.NOTSET for name in PER_TASK_LOGGERS)
