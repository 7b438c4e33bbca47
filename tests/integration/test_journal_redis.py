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
