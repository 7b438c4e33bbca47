"""``Outage``: what a client says in its log, and how often it tries, while the service behind it cannot be
reached.

A service that is down fails every request for as long as it is down: a line (let alone a traceback) per failed
request buried the log at thousands of lines a second. So a client tells its ``Outage`` of each failure and each
success, and it logs one warning when the service goes away (with the cause), a count of the failures every
``report_s`` while it stays away, and one line when it answers again. While it is away, ``skip`` lets one caller
per ``probe_s`` try it and the others fail at once: a service that hangs rather than refuses would otherwise cost
every request a full timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

REPORT_S = 10.0
"""How often a count of failed requests is logged while the service stays away."""
PROBE_S = 1.0
"""While the service is away, how often one caller tries it again."""


class Outage:
    """The outages of one service as a process sees them, shared by its threads; ``what`` names the service."""

    def __init__(self, what: str, log: logging.Logger, report_s: float = REPORT_S, probe_s: float = PROBE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._what = what
        self._log = log
        self._report_s = report_s
        self._probe_s = probe_s
        self._clock = clock
        self._lock = threading.Lock()
        self._down = False
        self._since = 0.0  # when it went away
        self._reported = 0.0  # when the last line about it was logged
        self._probe_at = 0.0  # when the next caller may try it again
        self._failed = 0  # failures since that line
        self._total = 0  # failures in this outage

    @property
    def down(self) -> bool:
        return self._down

    def skip(self) -> bool:
        """True when the caller should fail at once without trying (the service is away and was tried within
        ``probe_s``); counted as a failure."""
        if not self._down:  # the common case costs no lock
            return False
        now = self._clock()
        with self._lock:
            if now < self._probe_at:
                self._failed += 1
                self._total += 1
                return True
            self._probe_at = now + self._probe_s
            return False

    def failed(self, cause: object) -> None:
        """A request could not reach the service because of ``cause``."""
        now = self._clock()
        with self._lock:
            self._total += 1
            self._probe_at = now + self._probe_s
            if not self._down:
                self._down, self._since, self._reported, self._failed = True, now, now, 0
                first = True
            else:
                self._failed += 1
                first = False
                if now - self._reported < self._report_s:
                    return
                failed, elapsed = self._failed, now - self._reported
                self._reported, self._failed = now, 0
        if first:
            self._log.warning("%s unreachable: %s (further failures are counted until it is back)", self._what,
                              cause)
        else:
            self._log.warning("%s still unreachable: %d requests failed in the last %.0f s (last: %s)",
                              self._what, failed, elapsed, cause)

    def succeeded(self) -> None:
        """A request reached the service (whatever it answered)."""
        if not self._down:
            return
        now = self._clock()
        with self._lock:
            if not self._down:
                return
            self._down = False
            lasted, total = now - self._since, self._total
            self._total = 0
        self._log.warning("%s reachable again after %.1f s; %d requests failed meanwhile", self._what, lasted,
                          total)
