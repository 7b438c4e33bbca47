"""Redis away on the controller's request path: the blocking wait is bounded by the caller's wait and never raises,
the throttle counters fail open, the revision index and the registry fail fast, and each says so once per outage.
Against a port nobody listens on (refused at once) and a listener that never answers (a hung Redis)."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from celery import Celery

from app.core.errors import StoreError
from app.core.services.placement import Membership, Placer
from app.state.counters import RedisCounters
from app.state.registry import RedisInvokerRegistry
from app.state.revisions import RedisRevisions
from tasks.dispatch import CeleryDispatcher
from tasks.results import OUTAGE_WAIT_S

pytestmark = pytest.mark.unit

ACTIVATION = "a" * 32
T = TypeVar("T")


@pytest.fixture
def dead_url() -> str:
    """A Redis URL nobody listens on: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def hung_url() -> Iterator[str]:
    """A Redis URL that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"


def dispatcher(url: str) -> CeleryDispatcher:
    celery = Celery("squall-test", broker="memory://", backend=url, set_as_current=False)
    celery.conf.update(result_serializer="json", accept_content=["json"])
    return CeleryDispatcher(celery, ("unused",))


def timed(call: Callable[[], T]) -> tuple[T, float]:
    started = time.monotonic()
    value = call()
    return value, time.monotonic() - started


def test_a_blocking_wait_on_an_unreachable_redis_ends_early_with_none(dead_url: str) -> None:
    waiting = dispatcher(dead_url)
    value, took = timed(lambda: waiting.wait(ACTIVATION, 30))
    assert value is None and took < OUTAGE_WAIT_S + 1  # 202 in seconds, not a 500 after 19 s
    value, took = timed(lambda: waiting.wait(ACTIVATION, 0.3))
    assert value is None and took < 0.8  # never past a short wait either
    value, took = timed(lambda: waiting.peek(ACTIVATION))
    assert value is None and took < 1


def test_a_blocking_wait_on_a_hung_redis_ends_by_its_deadline(hung_url: str) -> None:
    waiting = dispatcher(hung_url)
    value, took = timed(lambda: waiting.wait(ACTIVATION, 1.0))
    assert value is None and took < 1.6
    value, took = timed(lambda: waiting.wait(ACTIVATION, 30))
    assert value is None and took < OUTAGE_WAIT_S + 1.5


def test_the_throttle_counters_fail_open_counting_in_the_process_and_say_so_once(
        dead_url: str, caplog: pytest.LogCaptureFixture) -> None:
    counters = RedisCounters(dead_url)
    with caplog.at_level(logging.WARNING, logger="app.state.counters"):
        counts, took = timed(lambda: [counters.increment("k", 65) for _ in range(50)])
        assert counts == list(range(1, 51)) and took < 2
        assert counters.increment("other", 65) == 1
    assert [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()] == [
        "Redis (throttle counters; counting in this process meanwhile) unreachable: Error 111 connecting to "
        f"{dead_url[8:-2]}. Connection refused. (further failures are counted until it is back)"]
    counters.close()


def test_the_revision_index_fails_fast_so_the_cache_reads_the_store(hung_url: str) -> None:
    revisions = RedisRevisions(hung_url, ttl_s=60)
    started = time.monotonic()
    for _ in range(20):
        with pytest.raises(StoreError):
            revisions.current("guest/a")
    assert time.monotonic() - started < 3  # one probe pays the timeout, the rest fail at once
    revisions.close()


def test_an_unreadable_registry_places_on_the_allow_list_unreserved(dead_url: str) -> None:
    registry = RedisInvokerRegistry(dead_url, "squall:test:")
    with pytest.raises(StoreError):
        registry.reports()
    placer = Placer(Membership(registry, allowed=("invoker0", "invoker1"), refresh_s=0.0))
    placement = placer.place("guest|guest/a", 256)
    assert placement is not None and placement.invoker in ("invoker0", "invoker1") and not placement.reserved
    assert Placer(Membership(registry, refresh_s=0.0)).place("guest|guest/a", 256) is None  # nobody known: 503
    registry.close()
