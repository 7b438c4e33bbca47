"""Runs the controller under gunicorn with gthread workers (a blocking invoke holds a thread up to 60 s),
set up so that a controller can be restarted without an outage: the new one binds the same port while the
old one drains (``reuse_port``), each listens only while it can serve (``ControllerWorker``), and the old one
finishes every blocking wait it holds (``graceful_timeout``)."""

from __future__ import annotations

import math
import shutil
from typing import Any

from flask import Flask
from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.config import Config

from app.controller.worker import ControllerWorker
from app.log_format import configure_logging
from config import Settings
from config.settings import ControllerSettings


def graceful_timeout_s(c: ControllerSettings) -> int:
    """How long a stopping controller lets its requests finish: the longest blocking wait, then the margin
    for what a blocking invoke does around its wait; a request cut sooner would lose its result or its 202."""
    return math.ceil(c.blocking_timeout_ms / 1000 + c.drain_margin_s)


def gunicorn_options(c: ControllerSettings) -> dict[str, Any]:
    return {
        "bind": f"{c.host}:{c.port}",
        "workers": c.workers,
        "threads": c.threads,
        "worker_class": ControllerWorker,
        # gthread's timeout bounds worker heartbeats, not request length; leave room for 60 s waits.
        "timeout": max(120, c.blocking_timeout_ms // 1000 * 2),
        # Each worker binds its own socket with SO_REUSEPORT (the master holds none), so a new controller
        # binds the same host:port while this one drains instead of failing with "Connection in use".
        "reuse_port": True,
        "graceful_timeout": graceful_timeout_s(c),
        "keepalive": 5,
        "accesslog": None,  # one line per request is ours (app.controller.access_log), with the transaction id
        "logger_class": ErrorLogThroughRoot,
        "preload_app": False,  # each worker opens its own broker and CouchDB connections
    }


def metrics_hooks(metrics_dir: str) -> dict[str, Any]:
    """gunicorn hooks for the workers' metrics in ``metrics_dir`` (prometheus_client's multiprocess mode): a
    worker that exits leaves its counts (they stay in the sums) but not its live gauges, and the controller
    removes the directory when it stops."""

    def child_exit(_server: Any, worker: Any) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, metrics_dir)  # type: ignore[no-untyped-call]

    def on_exit(_server: Any) -> None:
        shutil.rmtree(metrics_dir, ignore_errors=True)

    return {"child_exit": child_exit, "on_exit": on_exit}


class ErrorLogThroughRoot(glogging.Logger):
    """gunicorn's error log ("Booting worker", "Worker exiting") written by the process's one handler
    (``app.log_format``), in the configured format, instead of a handler and format of gunicorn's own."""

    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        for handler in list(self.error_log.handlers):
            self.error_log.removeHandler(handler)
        self.error_log.propagate = True


class ControllerServer(BaseApplication):
    """``metrics_dir``: where the workers count their metrics, so that ``/metrics`` sums them all; the library
    must have been told it (``PROMETHEUS_MULTIPROC_DIR``) before it was first imported (``squall controller``)."""

    def __init__(self, settings: Settings, extra: dict[str, Any] | None = None, *,
                 metrics_dir: str | None = None) -> None:
        self._settings = settings
        self._metrics_dir = metrics_dir
        hooks = metrics_hooks(metrics_dir) if metrics_dir is not None else {}
        self._options = {**gunicorn_options(settings.controller), **hooks, **(extra or {})}
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:  # gunicorn 25.1 and later
            # Its control socket (for gunicornc, which Squall does not use) has one default path per user:
            # a new controller takes it over from the old one, and the old one removes it when it exits.
            self.cfg.set("control_socket_disable", True)

    def run(self) -> None:
        # The controller's composition root: the master configures logging once; its workers are forked from it.
        configure_logging(self._settings.log.format)
        super().run()

    def load(self) -> Flask:  # type: ignore[override]  # a Flask app is the WSGI callable gunicorn wants
        from app.controller import create_app

        return create_app(self._settings, metrics_dir=self._metrics_dir)
