"""How the shared state reaches Redis from a request: a client that gives up within about a second.

A request must not wait on Redis longer than a person waits on a page. So each Redis-backed object a controller
uses on its request path connects through ``quick_client`` (short socket timeouts, one immediate retry for a
connection Redis dropped on restart, none with backoff) and tells an ``app.core.outage.Outage`` of each failure
and success: the outage is logged once, and while it lasts all but one caller per probe interval take their
fallback at once instead of each paying a timeout.
"""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

REQUEST_TIMEOUT_S = 0.5
"""Socket connect and read timeouts on the request path: a local Redis answers in well under a millisecond."""


def quick_client(url: str, timeout_s: float = REQUEST_TIMEOUT_S, name: str | None = None) -> redis.Redis:
    """A client whose every command fails within about twice ``timeout_s`` when Redis is away or hung; ``name``
    names its connections (Redis's ``CLIENT LIST`` shows it)."""
    return redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                retry=Retry(NoBackoff(), 1), client_name=name)
