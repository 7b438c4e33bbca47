"""Login attempts on the admin pages, counted per client address in one-minute windows (shared by every
controller through the same counter as the namespace throttles)."""

from __future__ import annotations

from app.core.entities import now_ms
from app.core.limits import WINDOW_MS, check_rate, window_key
from app.core.ports import RateCounter


class LoginThrottle:
    def __init__(self, counter: RateCounter, allowed_per_minute: int) -> None:
        self._counter = counter
        self._allowed = allowed_per_minute

    def attempt(self, client: str) -> None:
        """Count one login attempt from ``client``; raises ``Throttled`` past the allowed number this minute."""
        count = self._counter.increment(window_key("logins", client, now_ms()), WINDOW_MS // 1000 + 5)
        check_rate(count, self._allowed)
