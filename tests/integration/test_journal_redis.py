"""RedisJournal against the real Redis the deployment uses (SQUALL_BROKER__RESULT_BACKEND or the default)."""

from __future__ import annotations

import secrets

import pytest
import redis

from app.core.errors import Unavailable
from app.state.journal import RedisJournal

pytestmark = pytest.mark.integration


def test_claims_once_with_an_expiry(redis_url):
    prefix = f"squall:test:{secrets.token_hex(4)}:"
    journal = RedisJournal(redis_url, ttl_s=60, prefix=prefix)
    client = redis.Redis.from_url(redis_url)
    try:
        assert journal.claim("act1") is True
        assert journal.claim("act1") is False
        assert journal.claim("act2") is True
        assert 0 < client.ttl(prefix + "act1") <= 60
    finally:
        client.delete(prefix + "act1", prefix + "act2")
        client.close()
        journal.close()


def test_unreachable_redis_is_unavailable():
    journal = RedisJournal("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(Unavailable):
            journal.claim("x")
    finally:
        journal.close()


def test_a_kept_record_is_held_until_forgotten_with_its_own_expiry(redis_url):
    prefix, kept_prefix = f"squall:test:{secrets.token_hex(4)}:", f"squall:test:{secrets.token_hex(4)}:kept:"
    journal = RedisJournal(redis_url, ttl_s=60, prefix=prefix, kept_ttl_s=30, kept_prefix=kept_prefix)
    client = redis.Redis.from_url(redis_url)
    try:
        assert journal.kept("act1") is None
        journal.claim("act1")
        journal.keep("act1", {"activationId": "act1", "response": {"result": {"ok": True}}})
        assert journal.kept("act1") == {"activationId": "act1", "response": {"result": {"ok": True}}}
        assert 0 < client.ttl(kept_prefix + "act1") <= 30
        journal.forget("act1")
        assert journal.kept("act1") is None
        assert journal.claim("act1") is False  # the claim outlives what was kept
    finally:
        client.delete(prefix + "act1", kept_prefix + "act1")
        client.close()
        journal.close()


def test_drops_left_for_a_later_round_trip_are_made_by_it_or_at_once_past_the_bound_or_at_close(
        redis_url, monkeypatch):
    prefix, kept_prefix = f"squall:test:{secrets.token_hex(4)}:", f"squall:test:{secrets.token_hex(4)}:kept:"
    journal = RedisJournal(redis_url, ttl_s=60, prefix=prefix, kept_prefix=kept_prefix)
    client = redis.Redis.from_url(redis_url)
    ids = [f"act{n}" for n in range(6)]
    try:
        for aid in ids:
            journal.keep(aid, {"activationId": aid})
        journal.forget_later("act0")
        journal.forget_later("act1")
        assert journal.kept("act0") is not None  # not yet: it waits for the next round trip
        write = journal.forgotten()
        assert write == ("DEL", kept_prefix + "act0", kept_prefix + "act1")
        assert journal.forgotten() is None  # handed over once
        with client.pipeline(transaction=False) as pipe:  # the next result's round trip (tasks.results.hand_back)
            pipe.execute_command(*write)
            pipe.execute()
        assert journal.kept("act0") is None and journal.kept("act1") is None
        monkeypatch.setattr("app.state.journal.MAX_FORGOTTEN", 2)
        journal.forget_later("act2")
        journal.forget_later("act3")  # the bound: made at once
        assert journal.kept("act2") is None and journal.kept("act3") is None and journal.forgotten() is None
        journal.forget_later("act4")
        journal.close()  # a stopping invoker makes what is left
        assert client.exists(kept_prefix + "act4") == 0 and client.exists(kept_prefix + "act5") == 1
    finally:
        client.delete(*[kept_prefix + aid for aid in ids])
        client.close()
        journal.close()
