"""An invoker announcing itself: every ``heartbeat_s`` its health, capacity and containers go to the invoker
registry with a time to live of ``silent_after_s``, so controllers place work on it while it speaks and stop
within a few seconds of its silence (``app.core.services.placement``)."""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from collections.abc import Callable
from typing import Any

from app.core.entities import now_ms
from app.core.errors import StoreError
from app.core.ports import InvokerRegistry

log = logging.getLogger(__name__)


class Announcer:
    """A daemon thread that announces ``status()`` (a report with at least ``name``) until stopped."""

    def __init__(self, registry: InvokerRegistry, status: Callable[[], dict[str, Any]], heartbeat_s: float,
                 ttl_s: float) -> None:
        self._registry = registry
        # This process's mark on its reports: leaving removes only a report it made itself (a restarted invoker
        # of the same name may have announced while this one still drained).
        self.owner = secrets.token_hex(8)
        self._status = status
        self._heartbeat_s = heartbeat_s
        self._ttl_s = ttl_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def start(self, name: str) -> None:
        """Forget reservations of an earlier life of ``name``, announce once now, then every heartbeat."""
        try:
            self._registry.reset(name)
        except StoreError as e:
            log.warning("cannot reset the reservations of %s: %s", name, e)
        self.announce()
        self._thread = threading.Thread(target=self._run, name="squall-announce", daemon=True)
        self._thread.start()

    def announce(self) -> None:
        report = {**self._status(), "host": socket.gethostname(), "at_ms": now_ms(), "owner": self.owner}
        try:
            self._registry.announce(report, self._ttl_s)
        except StoreError as e:
            if not self._failing:  # once per outage, not once a second
                log.warning("cannot announce this invoker (controllers will stop placing work here): %s", e)
            self._failing = True
        else:
            if self._failing:
                log.info("announcing this invoker again")
            self._failing = False

    def _run(self) -> None:
        while not self._stop.wait(self._heartbeat_s):
            try:
                self.announce()
            except Exception:  # a bug of ours must not end the heartbeat
                log.exception("announcing this invoker failed")

    def stop(self, name: str) -> None:
        """Stop announcing and leave the registry at once: no new work, the queue goes to the others."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            self._registry.leave(name, self.owner)
        except StoreError as e:
            log.warning("cannot leave the registry (the others take over once this invoker's report expires): %s",
                        e)
