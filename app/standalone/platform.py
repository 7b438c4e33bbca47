"""The standalone platform: controller, invoker and store in one process, started and stopped as one.

This is the composition root of ``squall standalone`` (the only module that wires the controller and the
invoker together; import-linter keeps everything else from importing ``app.standalone``). The REST API is
served in-process by waitress, a production WSGI server on a thread pool (each blocking invoke holds a thread
for up to 60 s, as under gunicorn's gthread workers). Without ``--broker`` invocations go to the
``InProcessDispatcher``; with one, the controller publishes Celery tasks and an ``squall invoker`` child
process (same process group) consumes them, exactly as in the distributed stack.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import waitress.server

from app.catalog import SYSTEM_NAMESPACE, CatalogInstaller
from app.controller import create_app
from app.core.errors import PlatformError
from app.core.identities import WELL_KNOWN
from app.core.manifest import RuntimeManifest
from app.core.services import IdentityService
from app.scheduler.loop import AlarmLoop
from app.standalone.dispatch import InProcessDispatcher
from app.standalone.spool import Spool
from app.state import SharedState
from app.store import Store, open_store
from app.wiring import build_actions_and_packages, build_compositions, invoker_registry
from config import Settings, environment_variables
from workers.invoker import Invoker
from workers.metrics import process_registry
from workers.startup import build_invoker

log = logging.getLogger(__name__)

SHUTDOWN_DRAIN_S = 20.0
"""On Ctrl-C or SIGTERM, how long queued and running activations may finish before the pool is closed."""
INVOKER_STOP_S = 60.0
INVOKER_START_S = 60.0
"""How long ``--broker`` mode waits for its invoker child to announce itself before giving up."""


def docker_status(settings: Settings) -> str | None:
    """None when the Docker engine answers and has the default Python runtime image, else why not."""
    try:
        import docker
        import docker.errors
        import requests.exceptions
    except ImportError as e:  # pragma: no cover - docker is a dependency; kept for trimmed installs
        return f"the docker package is missing ({e})"
    image = RuntimeManifest.load(settings.runtimes.manifest_path).image("python:default")
    try:
        client = docker.from_env(timeout=3)
    except docker.errors.DockerException as e:
        return f"Docker is not reachable ({e})"
    try:
        client.ping()
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return f"the runtime image {image} is not built (squall runtimes build)"
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as e:
        return f"Docker is not reachable ({e})"
    finally:
        client.close()
    return None


def child_environment(sections: dict[str, dict[str, Any]]) -> dict[str, str]:
    """``SQUALL_*`` variables that give a child process the same settings as these overrides."""
    names = {setting: variable for variable, setting in environment_variables().items()}
    env = dict(os.environ)
    for section, values in sections.items():
        for key, value in values.items():
            env[names[f"{section}.{key}"]] = ",".join(value) if isinstance(value, tuple) else str(value)
    return env


def _address(url: str) -> str:
    """``host:port`` of a service URL, without the credentials it may carry."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


class Standalone:
    """Builds, runs and stops the one-process platform. ``start`` returns once it serves HTTP."""

    def __init__(self, settings: Settings, data_dir: Path, sections: dict[str, dict[str, Any]]) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self._sections = sections
        self._store: Store | None = None
        self._invoker: Invoker | None = None
        self._dispatcher: InProcessDispatcher | None = None
        self._server: Any = None  # a waitress server (no type stubs)
        self._serving: threading.Thread | None = None
        self._worker: subprocess.Popen[bytes] | None = None
        self._alarms: AlarmLoop | None = None
        self.unconfined: list[str] = []
        """What the process factory does not confine on this host, said at start."""

    @property
    def in_process(self) -> bool:
        return "broker" not in self._sections

    def _reachable_from_containers(self) -> list[str]:
        """With Docker, containers reach the API on the action network's gateway (127.0.0.1 is their own):
        point ``__OW_API_HOST`` there and listen there too. Returns the extra listen address, if any."""
        c = self.settings.controller
        if self.settings.invoker.factory != "docker" or self.settings.invoker.api_host or c.host == "0.0.0.0":
            return []
        from workers.factories.docker import DockerContainerFactory

        factory = DockerContainerFactory(self.settings.invoker, c.api_host)
        try:
            gateway = factory.gateway()
        except PlatformError as e:
            log.warning("actions cannot call the API back: %s", e)
            return []
        finally:
            factory.close()
        if gateway is None:
            return []
        api_host = f"http://{gateway}:{c.port}"
        self.settings = replace(self.settings, invoker=replace(self.settings.invoker, api_host=api_host))
        self._sections.setdefault("invoker", {})["api_host"] = api_host  # the --broker invoker child too
        return [f"{gateway}:{c.port}"]

    def start(self) -> None:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)  # the store, the spool and the containers' secrets: this user's alone
        self.unconfined = self._unconfined()
        for line in self.unconfined:
            log.warning("not confined: %s", line)
        extra_listen = self._reachable_from_containers()
        self._store = open_store(self.settings)
        identities = IdentityService(self._store, cache_seconds=0)
        identities.seed()
        actions, packages = build_actions_and_packages(self.settings, self._store)
        written = CatalogInstaller(packages, actions, identities.identity_of(SYSTEM_NAMESPACE),
                                   self.settings.runtimes.catalog_path).install()
        if written:
            log.info("installed the system catalog: %s", ", ".join(written))
        dispatcher = None
        # One process: the step ledger, the throttle counts and the activations in flight live here (no Redis to
        # share them through); the controller counts in ``inflight``, the invoker's runs release from it.
        inflight = SharedState(None).inflight() if self.in_process else None
        # One process, one registry: /metrics shows the controller's counts and the in-process invoker's.
        metrics_registry = process_registry()
        if self.in_process:
            spool = Spool(self.data_dir / "spool")
            self._invoker = build_invoker(self.settings, store=self._store, journal=spool,
                                          metrics_registry=metrics_registry)
            self._dispatcher = dispatcher = InProcessDispatcher(
                self._invoker, spool, self.settings.invoker.threads, self.settings.broker.result_expires_s, inflight,
                metrics=self._invoker.metrics)
            self._invoker.metrics.watch_queue(dispatcher.waiting)
            dispatcher.attach_compositions(build_compositions(self.settings, self._store, self._store, dispatcher,
                                                              dispatcher, SharedState(None), inflight,
                                                              finished=self._invoker.metrics.finished))
            recovered = dispatcher.recover()
            if recovered:
                log.info("running %d activations an earlier run accepted and did not finish", recovered)
        else:
            self._worker = self._child("invoker")
            self._await_invoker(self._worker)
        # Alarms in this process in either mode: the loop makes the same claims as `squall scheduler`.
        self._alarms = AlarmLoop(self.settings, self._store)
        app = create_app(self.settings, store=self._store, dispatcher=dispatcher, invokers=dispatcher,
                         counter=SharedState(None).counters() if self.in_process else None, inflight=inflight,
                         metrics_registry=metrics_registry)
        c = self.settings.controller
        self._server = waitress.server.create_server(app, listen=" ".join([f"{c.host}:{c.port}", *extra_listen]),
                                              threads=c.threads,
                                              channel_timeout=max(120, c.blocking_timeout_ms // 1000 * 2),
                                              ident="squall")
        self._serving = threading.Thread(target=self._server.run, name="squall-http", daemon=True)
        self._serving.start()
        if self._alarms is not None:
            self._alarms.start()  # after the API serves: alarms fire through it

    def _unconfined(self) -> list[str]:
        """What the process factory does not confine here (nothing listed for Docker containers)."""
        if self.settings.invoker.factory != "process":
            return []
        from workers.factories.process import unconfined

        services = [f"the API and its admin pages at {self.settings.controller.api_host}"]
        if not self.in_process:
            services += [f"the broker at {_address(self.settings.broker.url)}",
                         f"Redis at {_address(self.settings.broker.result_backend)}"]
        if self.settings.store.kind == "couchdb":
            services.append(f"CouchDB at {_address(self.settings.couchdb.url)}")
        return unconfined(self.settings.invoker, services)

    def _await_invoker(self, worker: subprocess.Popen[bytes]) -> None:
        """Serve only once the invoker child announced itself: before that every invoke would be a 503."""
        registry = invoker_registry(self.settings)
        name = self.settings.invoker.name
        deadline = time.monotonic() + INVOKER_START_S
        try:
            while name not in registry.reports():
                if worker.poll() is not None:
                    raise PlatformError(f"the invoker child exited with code {worker.returncode}; see its output above")
                if time.monotonic() > deadline:
                    raise PlatformError(f"the invoker child did not announce itself within {INVOKER_START_S:.0f} s: "
                                        f"is Redis reachable at {self.settings.broker.result_backend}?")
                time.sleep(0.2)  # polling a child process coming up
        finally:
            registry.close()

    def _child(self, command: str) -> subprocess.Popen[bytes]:
        """A ``squall <command>`` child with the same settings (``--broker`` mode: the invoker)."""
        return subprocess.Popen([sys.executable, "-c", "from app.cli.main import cli; cli()", command],
                                env=child_environment(self._sections), stdin=subprocess.DEVNULL)

    def banner(self) -> str:
        api = self.settings.controller.api_host
        auth = WELL_KNOWN["guest"]
        mode = "in-process dispatcher" if self.in_process else f"Celery on {self.settings.broker.url}"
        return "\n".join([
            f"Squall standalone is up ({self.settings.store.kind} store, {self.settings.invoker.factory} "
            f"containers, {mode}; data in {self.data_dir}).",
            f"  API host:  {api}",
            f"  guest key: {auth}",
            f"  wsk:       wsk property set --apihost {api} --auth {auth}",
            f"  admin:     {api}/admin",
            *([f"  warning:   process containers leave {len(self.unconfined)} things unconfined here: see the "
               f"\"not confined\" lines above and docs/security.md"] if self.unconfined else []),
            "Ctrl-C stops it.",
        ])

    def stop(self) -> None:
        """Finish or keep what was accepted, then stop serving and remove every container."""
        if self._alarms is not None:
            self._alarms.stop()
        if self._dispatcher is not None:
            left = self._dispatcher.shutdown(SHUTDOWN_DRAIN_S)
            if left:
                log.info("%d queued activations kept in the spool for the next start", len(left))
        if self._worker is not None and self._worker.poll() is None:
            self._worker.terminate()  # Celery's warm shutdown: running tasks finish, queued stay in the broker
            try:
                self._worker.wait(INVOKER_STOP_S)
            except subprocess.TimeoutExpired:
                self._worker.kill()
                self._worker.wait()
        if self._invoker is not None:
            self._invoker.close()  # destroys every container; activations still running end with a record
        if self._dispatcher is not None:
            self._dispatcher.join()
        if self._server is not None:
            self._server.close()
        if self._serving is not None:
            self._serving.join(5)
        if self._store is not None:
            self._store.close()
