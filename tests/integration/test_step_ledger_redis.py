"""RedisStepLedger against the real Redis the deployment uses (the result backend)."""

from __future__ import annotations

import secrets

import pytest
import redis

from app.core.errors import Unavailable
from app.state.ledger import RedisStepLedger
from config import load_settings

pytestmark = pytest.mark.integration


def test_marks_with_an_expiry() -> None:
    url = load_settings().broker.result_backend
    if not url.startswith("redis://"):
        pytest.fail(f"the result backend {url} is not Redis")
    prefix = f"squall:test:{secrets.token_hex(4)}:"
    ledger = RedisStepLedger(url, ttl_s=60, prefix=prefix)
    client = redis.Redis.from_url(url)
    try:
        assert ledger.done("seq/comp") is False
        ledger.mark_done("seq/comp")
        assert ledger.done("seq/comp") is True
        assert ledger.done("seq/other") is False
        assert 0 < client.ttl(prefix + "seq/comp") <= 60
    finally:
        client.delete(prefix + "seq/comp")
        client.close()
        ledger.close()


def test_unreachable_redis_is_unavailable() -> None:
    ledger = RedisStepLedger("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(Unavailable):
            ledger.done("x")
        with pytest.raises(Unavailable):
            ledger.mark_done("x")
    finally:
        ledger.close()
