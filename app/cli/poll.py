"""``activation poll``: follow the namespace's (or one action's) new activation records and print each one's logs,
as ``wsk activation poll`` does: a blank line, ``Activation: 'name' (id)``, then the logs as a JSON array.

Where polling starts: ``--since-*`` back from now; else just after the newest activation of the namespace (all of
them when there is none), as wsk. Every round (every 2 s) asks for the records that started since then.

A record lands when its activation ends, so one that started earlier can land after a newer one was printed. wsk
moves its window past every record it prints and so never shows such a late record; here each round looks again
over the minute before the newest start seen (and remembers what it printed), so an activation that ran for up to
a minute still shows. Records are printed oldest first (wsk prints each round's newest first).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

POLL_INTERVAL_S = 2.0
LOOKBACK_MS = 60_000


def start_ms(now_ms: int, back_s: int, newest_start: int | None) -> int:
    """The first instant to poll from: ``back_s`` seconds before now when given, else just after the newest
    activation (0, i.e. everything, when there is none)."""
    if back_s > 0:
        return now_ms - back_s * 1000
    return newest_start + 1 if newest_start is not None else 0


def back_seconds(seconds: int, minutes: int, hours: int, days: int) -> int:
    return seconds + 60 * minutes + 3600 * (hours + 24 * days)


def activation_lines(record: dict[str, Any]) -> list[str]:
    """What wsk prints for one record (before the logs' JSON): a blank line and the activation's name and id."""
    return ["", f"Activation: '{record.get('name', '')}' ({record.get('activationId', '')})"]


@dataclass
class Poller:
    """One ``poll``'s state: where the window starts and which records were printed.

    ``fetch(since_ms)`` lists full records (with logs) that started at or after ``since_ms``; ``show`` prints one.
    """

    fetch: Callable[[int], list[dict[str, Any]]]
    show: Callable[[dict[str, Any]], None]
    since_ms: int
    newest_ms: int = -1
    printed: dict[str, int] = field(default_factory=dict)  # activation id -> start

    def window_ms(self) -> int:
        return max(self.since_ms, self.newest_ms - LOOKBACK_MS)

    def round(self) -> int:
        """Fetch and print the records not printed yet, oldest first; how many were printed."""
        since = self.window_ms()
        fresh = [r for r in self.fetch(since) if isinstance(r, dict) and r.get("activationId")
                 and str(r["activationId"]) not in self.printed]
        fresh.sort(key=_start)
        for record in fresh:
            self.show(record)
            self.printed[str(record["activationId"])] = _start(record)
            self.newest_ms = max(self.newest_ms, _start(record))
        window = self.window_ms()  # forget what can no longer come back
        self.printed = {aid: start for aid, start in self.printed.items() if start >= window}
        return len(fresh)

    def run(self, exit_after_s: int, on_error: Callable[[Exception], None],
            errors: tuple[type[Exception], ...], clock: Callable[[], float] = time.monotonic,
            sleep: Callable[[float], None] = time.sleep) -> None:
        """Poll now and then every ``POLL_INTERVAL_S`` until ``exit_after_s`` seconds passed (0: until interrupted).
        The first round's errors propagate (a wrong key or host shows at once); a later round that fails with one
        of ``errors`` goes to ``on_error`` and polling goes on."""
        started = clock()
        self.round()
        while True:
            if exit_after_s > 0:
                remaining = exit_after_s - (clock() - started)
                if remaining <= 0:
                    return
                sleep(min(POLL_INTERVAL_S, remaining))
            else:
                sleep(POLL_INTERVAL_S)
            try:
                self.round()
            except errors as e:
                on_error(e)


def _start(record: dict[str, Any]) -> int:
    start = record.get("start")
    return start if isinstance(start, int) else 0
