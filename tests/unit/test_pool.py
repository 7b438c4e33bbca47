"""The pool shell over a recording fake of our own ContainerFactory port (no Docker)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from app.core.errors import RuntimeStartupError
from config.settings import InvokerSettings
from workers.factories.base import ContainerSpec, LogEntry
from workers.pool import ContainerPool, PoolClosed, PoolExhausted

pytestmark = pytest.mark.unit

A = ("guest", "guest/a", "1-a")
B = ("guest", "guest/b", "1-b")


class FakeContainer:
    def __init__(self, cid: str, memory_mb: int) -> None:
        self.id = cid
        self.name = f"squall_test_{cid}"
        self.host = "127.0.0.1"
        self.port = 8080
        self.memory_mb = memory_mb
        self.log_path: str | None = None
        self.destroyed = False

    def api_logs(self, since_ns: int) -> list[LogEntry]:
        return []

    def destroy(self) -> None:
        self.destroyed = True


class FakeFactory:
    def __init__(self) -> None:
        self.created: list[FakeContainer] = []
        self.fail_next = False

    def create(self, spec: ContainerSpec) -> FakeContainer:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeStartupError()
        container = FakeContainer(str(len(self.created) + 1), spec.memory_mb)
        self.created.append(container)
        return container

    def cleanup(self) -> None:
        pass

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def spec(memory: int = 256) -> ContainerSpec:
    return ContainerSpec("img", memory, "guest", "a", "python:3")


@pytest.fixture
def factory() -> FakeFactory:
    return FakeFactory()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_pool(factory, clock) -> Iterator[object]:
    pools: list[ContainerPool] = []

    def make(memory: int = 512, idle: float = 60.0, **kwargs: object) -> ContainerPool:
        settings = InvokerSettings(user_memory_mb=memory, idle_timeout_s=idle)
        pool = ContainerPool(factory, settings, clock=clock, reap_interval_s=3600, **kwargs)  # type: ignore[arg-type]
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close()


def test_released_container_is_reused_for_the_same_key(make_pool, factory):
    pool = make_pool()
    first = pool.acquire(A, spec())
    assert not first.initialized
    first.initialized = True
    pool.release(first, reusable=True)
    again = pool.acquire(A, spec())
    assert again is first and again.initialized
    assert len(factory.created) == 1


def test_other_key_gets_its_own_container(make_pool, factory):
    pool = make_pool()
    pool.release(pool.acquire(A, spec()), reusable=True)
    other = pool.acquire(B, spec())
    assert other.container is factory.created[1]
    assert pool.stats() == {"free": 1, "busy": 1, "starting": 0, "used_mb": 512, "capacity_mb": 512}


def test_not_reusable_is_destroyed(make_pool, factory):
    pool = make_pool()
    pooled = pool.acquire(A, spec())
    pool.release(pooled, reusable=False)
    assert factory.created[0].destroyed
    assert pool.stats()["used_mb"] == 0
    assert pool.acquire(A, spec()).container is factory.created[1]


def test_full_pool_evicts_the_least_recently_used_idle_container(make_pool, factory, clock):
    pool = make_pool(memory=512)
    old = pool.acquire(A, spec())
    newer = pool.acquire(B, spec())
    pool.release(old, reusable=True)
    clock.now += 1
    pool.release(newer, reusable=True)
    third = pool.acquire(("guest", "guest/c", "1"), spec())
    assert factory.created[0].destroyed and not factory.created[1].destroyed
    assert third.container is factory.created[2]


def test_full_pool_waits_for_a_release(make_pool, factory):
    pool = make_pool(memory=256)
    holder = pool.acquire(A, spec())
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire(B, spec(), timeout_s=10)))
    waiter.start()
    pool.release(holder, reusable=True)  # frees by becoming evictable
    waiter.join(10)
    assert not waiter.is_alive()
    assert factory.created[0].destroyed
    assert got[0].container is factory.created[1]  # type: ignore[attr-defined]


def test_waiting_is_bounded(make_pool):
    pool = make_pool(memory=256)
    pool.acquire(A, spec())
    with pytest.raises(PoolExhausted):
        pool.acquire(B, spec(), timeout_s=0.05)


def test_an_action_larger_than_the_pool_fails_at_once(make_pool):
    with pytest.raises(PoolExhausted, match="needs 512 MB"):
        make_pool(memory=256).acquire(A, spec(512))


def test_failed_start_gives_the_memory_back(make_pool, factory):
    pool = make_pool(memory=256)
    factory.fail_next = True
    with pytest.raises(RuntimeStartupError):
        pool.acquire(A, spec())
    assert pool.stats()["used_mb"] == 0
    assert pool.acquire(A, spec(), timeout_s=0).container is factory.created[0]


def test_reap_removes_containers_idle_too_long(make_pool, factory, clock):
    pool = make_pool(idle=10.0)
    idle = pool.acquire(A, spec())
    busy = pool.acquire(B, spec())
    pool.release(idle, reusable=True)
    clock.now += 9
    assert pool.reap() == 0
    clock.now += 1
    assert pool.reap() == 1
    assert factory.created[0].destroyed and not busy.container.destroyed  # type: ignore[attr-defined]


def test_reaper_thread_runs_on_its_own(factory):
    settings = InvokerSettings(user_memory_mb=512, idle_timeout_s=0.01)
    pool = ContainerPool(factory, settings, reap_interval_s=0.01)
    try:
        pool.release(pool.acquire(A, spec()), reusable=True)
        with pool._cond:
            pool._cond.wait_for(lambda: not pool._free, timeout=5)
        assert factory.created[0].destroyed
    finally:
        pool.close()


def test_close_destroys_everything_and_refuses_new_work(make_pool, factory):
    pool = make_pool()
    free = pool.acquire(A, spec())
    pool.release(free, reusable=True)
    pool.acquire(B, spec())
    pool.close()
    assert all(c.destroyed for c in factory.created)
    with pytest.raises(PoolClosed):
        pool.acquire(A, spec())


def test_close_wakes_waiters(make_pool):
    pool = make_pool(memory=256)
    pool.acquire(A, spec())
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            pool.acquire(B, spec(), timeout_s=30)
        except PoolClosed as e:
            errors.append(e)

    waiter = threading.Thread(target=wait)
    waiter.start()
    pool.close()  # whether the waiter is already waiting or not yet: it must get PoolClosed
    waiter.join(5)
    assert len(errors) == 1
