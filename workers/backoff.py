"""``Backoff``: how an invoker's threads wait for a service they need before an activation can start (the start
journal, the entity store) while it is away.

Why not each thread sleeping its own growing pauses: an activation accepted during an outage then started up to
the length of its current pause after the service was back (8 s into a 15 s Redis outage, the pause was 8 s), and
every blocking caller queued behind it waited as long. Here the pauses are capped at a second, so a return is
noticed within one, and the first thread that reaches the service again wakes every other one at once. One
warning when the service goes away and one when it is back (``app.core.outage.Outage``), not a line per try.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from app.core.outage import Outage

PAUSES_S = (0.2, 0.5, *(1.0,) * 29)
"""Pauses between tries: about 30 s in all before the caller gives up (and puts its message back for later)."""


class Backoff:
    """The tries of one service by all of a process's threads; ``what`` names it in the log."""

    def __init__(self, what: str, log: logging.Logger, pauses_s: tuple[float, ...] = PAUSES_S) -> None:
        self._pauses_s = pauses_s
        self._outage = Outage(what, log)
        self._back = threading.Event()  # set while the service answers; waiting threads wake when it is set

    def pauses(self) -> Iterator[float | None]:
        """The pause after each failed try, then None: the last try, after which the caller gives up."""
        yield from self._pauses_s
        yield None

    def failed(self, cause: object, pause: float) -> None:
        """A try failed because of ``cause``: wait ``pause`` seconds, or less if another thread gets through."""
        self._back.clear()
        self._outage.failed(cause)
        self._back.wait(pause)  # woken early by ``succeeded``; a backoff, not synchronisation

    def succeeded(self) -> None:
        """A try reached the service (whatever it answered): every thread waiting on it tries again now."""
        if not self._back.is_set():
            self._back.set()
            self._outage.succeeded()
