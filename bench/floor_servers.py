"""The two processes the floors need, each run as ``python -m bench.floor_servers <what>``:

* ``celery QUEUE``: a Celery worker built by ``tasks.celery_app.make_celery`` (the invoker's broker, backend and
  settings, the same thread pool) consuming QUEUE with one no-op task whose result goes to the backend, as an
  activation's does;
* ``flask PORT``: gunicorn with the controller's settings (``ControllerServer``) serving a Flask app with one
  trivial JSON route.
"""

from __future__ import annotations

import sys
from typing import Any

NOOP_TASK = "bench.noop"


def celery_worker(queue: str) -> None:
    from config import load_settings
    from tasks.celery_app import make_celery

    settings = load_settings()
    app = make_celery(settings)

    @app.task(name=NOOP_TASK, ignore_result=False)  # type: ignore[untyped-decorator]
    def noop(**_: Any) -> dict[str, Any]:
        return {}

    app.Worker(hostname=f"{queue}@%h", queues=[queue], pool="threads", concurrency=settings.invoker.threads,
               loglevel="INFO", without_gossip=True, without_mingle=True).start()


def flask_server(port: int) -> None:
    from flask import Flask, jsonify, request

    from app.controller.server import ControllerServer
    from config import load_settings

    def bare_app() -> Flask:
        app = Flask("bench_floor")

        @app.post("/hop")
        def hop() -> Any:
            request.get_json(silent=True)
            return jsonify({})

        @app.get("/ping")
        def ping() -> Any:
            return jsonify({})

        return app

    class BareServer(ControllerServer):
        def load(self) -> Flask:
            return bare_app()

    BareServer(load_settings(overrides={"controller": {"port": port}})).run()


def main(argv: list[str]) -> None:
    what, arg = argv[1], argv[2]
    if what == "celery":
        celery_worker(arg)
    elif what == "flask":
        flask_server(int(arg))
    else:
        raise SystemExit(f"unknown floor server {what!r}")


if __name__ == "__main__":
    main(sys.argv)
