"""``RedisInFlight`` against real Redis: the deployment's, and one started here that a test stops and starts again.

The count and the add are one step for every client (controllers race for the last slot and exactly the limit
gets in); a member past its deadline no longer counts; the key expires with its last deadline; releases made
while Redis was away are made once it is back."""

from __future__ import annotations

import concurrent.futures
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from app.core.errors import StoreError
from app.state.inflight import KEY_PREFIX, RedisInFlight
from tests.conftest import free_port

pytestmark = pytest.mark.integration

START_DEADLINE_S = 10.0


@pytest.fixture
def prefix() -> str:
    return f"squall-test-{secrets.token_hex(4)}:"


def test_acquire_count_release(redis_url: str, prefix: str) -> None:
    inflight = RedisInFlight(redis_url, prefix)
    client = redis.Redis.from_url(redis_url)
    key = prefix + KEY_PREFIX + "ns"
    try:
        assert [inflight.acquire("ns", f"a{n}", 60_000, 2) for n in range(3)] == [0, 1, 2]
        assert inflight.count("ns") == 2 and client.zcard(key) == 2  # the refused one was not added
        assert inflight.count("other") == 0
        assert 59_000 < client.pttl(key) <= 61_000  # the key lives as long as its last deadline
        inflight.release("ns", "a0")
        inflight.release("ns", "a0")
        inflight.release("ns", "never-added")
        assert inflight.acquire("ns", "a3", 60_000, 2) == 1
        assert inflight.acquire("ns", "component", 60_000, None) == 2  # unconditional
        assert RedisInFlight(redis_url, "another-deployment:").count("ns") == 0  # deployments count apart
        for aid in ("a1", "a3", "component"):
            inflight.release("ns", aid)
        assert client.exists(key) == 0  # nothing left behind
    finally:
        client.delete(key)
        client.close()
        inflight.close()


def test_a_member_past_its_deadline_no_longer_counts(redis_url: str, prefix: str) -> None:
    inflight = RedisInFlight(redis_url, prefix)
    client = redis.Redis.from_url(redis_url)
    key = prefix + KEY_PREFIX + "ns"
    try:
        seconds, micros = client.time()
        now_ms = seconds * 1000 + micros // 1000
        client.zadd(key, {"lost": now_ms - 1, "held": now_ms + 60_000})  # "lost": its invoker never ended it
        assert inflight.acquire("ns", "new", 60_000, 2) == 1  # only "held" counts
        assert client.zscore(key, "lost") is None  # and "lost" is gone
        assert inflight.acquire("ns", "refused", 60_000, 2) == 2
    finally:
        client.delete(key)
        client.close()
        inflight.close()


def test_controllers_racing_for_the_last_slots_get_exactly_the_limit(redis_url: str, prefix: str) -> None:
    controllers = [RedisInFlight(redis_url, prefix) for _ in range(4)]  # a client each, as controllers have
    try:
        def take(n: int) -> bool:
            inflight = controllers[n % len(controllers)]
            return inflight.acquire("ns", f"a{n}", 60_000, 10) < 10

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            admitted = list(pool.map(take, range(80)))
        assert sum(admitted) == 10
        assert controllers[0].count("ns") == 10
    finally:
        redis.Redis.from_url(redis_url).delete(prefix + KEY_PREFIX + "ns")
        for inflight in controllers:
            inflight.close()


class LocalRedis:
    """A redis-server of this test's own, on a free port, without persistence."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed")
        self.process = subprocess.Popen([binary, "--port", str(self.port), "--save", "", "--appendonly", "no",
                                         "--dir", str(self.workdir)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + START_DEADLINE_S
        client = redis.Redis.from_url(self.url)
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    assert time.monotonic() < deadline, "redis-server did not start"
                    time.sleep(0.05)  # polling a process coming up
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def local_redis(tmp_path: Path) -> Iterator[LocalRedis]:
    server = LocalRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_while_redis_is_away_acquire_fails_and_releases_are_made_once_it_is_back(local_redis: LocalRedis) -> None:
    inflight = RedisInFlight(local_redis.url)
    client = redis.Redis.from_url(local_redis.url)
    key = KEY_PREFIX + "ns"
    try:
        for aid in ("a", "b", "c"):
            inflight.acquire("ns", aid, 60_000, None)
        # Redis goes away and comes back with its data (as a restart with persistence would).
        dump = {member: score for member, score in client.zrange(key, 0, -1, withscores=True)}
        local_redis.stop()
        with pytest.raises(StoreError):
            inflight.acquire("ns", "d", 60_000, 10)  # the caller lets the invoke through uncounted
        inflight.release("ns", "a")  # never raises: owed
        inflight.release("ns", "b")
        local_redis.start()
        client.zadd(key, dump)
        deadline = time.monotonic() + 5.0
        while client.exists(key):  # the first release after the outage's probe interval tries Redis again
            assert time.monotonic() < deadline, client.zrange(key, 0, -1)
            inflight.release("ns", "c")
            time.sleep(0.05)  # polling for the probe interval to pass
        # "a" and "b", released while Redis was away, were released with "c"
        assert inflight.acquire("ns", "e", 60_000, 1) == 0
    finally:
        client.close()
        inflight.close()
