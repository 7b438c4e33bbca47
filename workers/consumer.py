"""The invoker's broker consumer: Celery's, reconnecting within a second of the broker's return.

Why: Celery's consumer retries a lost broker connection with kombu's default pauses (2 s, then 2 s more each time,
up to 30 s), which it does not let a setting change; after a 15 s broker restart an invoker slept up to 10 s more
before it consumed again, while the controllers were already publishing. A pause of at most ``RETRY_MAX_S`` costs a
connection attempt a second while the broker is away.
"""

from __future__ import annotations

from typing import Any

from celery.worker.consumer import Consumer

RETRY_START_S = 0.5
RETRY_STEP_S = 0.5
RETRY_MAX_S = 1.0


class QuickReconnectConsumer(Consumer):  # type: ignore[misc]  # Celery ships no type information
    """``worker_consumer`` of every invoker (``workers.startup``)."""

    def ensure_connected(self, conn: Any) -> Any:
        connect = conn.ensure_connection

        def quickly(*args: Any, **kwargs: Any) -> Any:
            kwargs.update(interval_start=RETRY_START_S, interval_step=RETRY_STEP_S, interval_max=RETRY_MAX_S)
            return connect(*args, **kwargs)

        conn.ensure_connection = quickly
        return super().ensure_connected(conn)
