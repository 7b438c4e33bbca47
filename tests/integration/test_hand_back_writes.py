"""An activation's end in one round trip to the real Redis: the journal's copy of the record and the release of its
in-flight slot travel with the result (``tasks.results.hand_back``), and Redis holds both before the result can
be seen: a subscriber woken by the result finds them already there."""

from __future__ import annotations

import secrets
import threading

import pytest
import redis
from celery import Celery

from app.state.inflight import RedisInFlight
from app.state.journal import RedisJournal
from tasks.results import hand_back, result_key

pytestmark = pytest.mark.integration


def _celery(redis_url: str) -> Celery:
    celery = Celery("squall-test", broker="memory://", backend=redis_url, set_as_current=False)
    celery.conf.update(result_serializer="json", accept_content=["json"], result_expires=60)
    return celery


def test_the_writes_reach_redis_before_the_result_is_published(redis_url: str) -> None:
    run = secrets.token_hex(4)
    journal = RedisJournal(redis_url, prefix=f"squall:test:{run}:started:", kept_prefix=f"squall:test:{run}:kept:")
    inflight = RedisInFlight(redis_url, prefix=f"test{run}:")
    celery = _celery(redis_url)
    client = redis.Redis.from_url(redis_url)
    aid = secrets.token_hex(16)
    doc = {"activationId": aid, "namespace": "guest", "response": {"status": "success", "result": {"n": 1}}}
    channel = f"squall:test:{run}:reply"
    seen: dict[str, object] = {}
    subscribed = threading.Event()

    def listen() -> None:
        # What a waiting controller would find the moment the result wakes it.
        pubsub = client.pubsub()
        pubsub.subscribe(channel)
        subscribed.set()
        for message in pubsub.listen():
            if message["type"] == "message":
                seen["kept"] = journal.kept(aid)
                seen["in_flight"] = inflight.count("guest")
                break
        pubsub.close()

    try:
        assert inflight.acquire("guest", aid, 60_000, None) == 0
        assert inflight.count("guest") == 1
        keep = journal.keep_later(aid, doc)
        leave = inflight.release_later("guest", aid)
        assert keep is not None and leave is not None  # shared state: left for the round trip
        assert journal.kept(aid) is None and inflight.count("guest") == 1  # nothing written yet
        listener = threading.Thread(target=listen)
        listener.start()
        assert subscribed.wait(5)
        hand_back(celery, aid, doc, channel, (keep, leave))
        listener.join(10)
        assert seen == {"kept": doc, "in_flight": 0}
        assert client.exists(result_key(celery, aid)) == 1
        assert 0 < client.ttl(f"squall:test:{run}:kept:{aid}") <= 3600  # the journal's own expiry
        hand_back(celery, aid, doc, channel, (keep, leave))  # a retry sends them again: nothing changes
        assert journal.kept(aid) == doc and inflight.count("guest") == 0
    finally:
        client.delete(f"squall:test:{run}:kept:{aid}", result_key(celery, aid))
        client.close()
        journal.close()
        inflight.close()
        celery.close()


def test_owed_releases_are_made_at_once_not_left_for_later(redis_url: str) -> None:
    """Releases owed from an outage are caught up on by the next release; one left for later would not."""
    run = secrets.token_hex(4)
    inflight = RedisInFlight(redis_url, prefix=f"test{run}:")
    try:
        inflight.acquire("guest", "a" * 32, 60_000, None)
        inflight.acquire("guest", "b" * 32, 60_000, None)
        inflight._owe([("guest", "a" * 32)])  # as an outage leaves it
        assert inflight.release_later("guest", "b" * 32) is None
        assert inflight.count("guest") == 0
        assert inflight.release_later("guest", "c" * 32) == ("ZREM", f"test{run}:squall:inflight:guest", "c" * 32)
    finally:
        inflight.close()
