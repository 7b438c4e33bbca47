"""Runs the controller under gunicorn with gthread workers (a blocking invoke holds a thread up to 60 s)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from config import Settings


class ControllerServer(BaseApplication):
    def __init__(self, settings: Settings, extra: dict[str, Any] | None = None) -> None:
        self._settings = settings
        c = settings.controller
        self._options = {
            "bind": f"{c.host}:{c.port}",
            "workers": c.workers,
            "threads": c.threads,
            "worker_class": "gthread",
            # gthread's timeout bounds worker heartbeats, not request length; leave room for 60 s waits.
            "timeout": max(120, c.blocking_timeout_ms // 1000 * 2),
            "graceful_timeout": 30,
            "keepalive": 5,
            "accesslog": None,
            "preload_app": False,  # each worker opens its own broker and CouchDB connections
            **(extra or {}),
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:  # type: ignore[override]  # a Flask app is the WSGI callable gunicorn wants
        from app.controller import create_app

        return create_app(self._settings)
