"""The pool shell over a recording fake of our own ContainerFactory port (no Docker)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from app.core.errors import ContainerError, RuntimeStartupError
from config.settings import InvokerSettings
from workers.factories.base import ContainerSpec, LogEntry
from workers.pool import STALE_S, BufferTimeout, ContainerPool, PoolClosed, PoolExhausted, StemCellSpec

pytestmark = pytest.mark.unit

A = ("guest", "guest/a", "1-a")
B = ("guest", "guest/b", "1-b")
C = ("guest", "guest/c", "1-c")


class FakeContainer:
    def __init__(self, cid: str, spec: ContainerSpec, port: int = 9) -> None:
        self.id = cid
        self.name = f"squall_test_{cid}"
        self.host = "127.0.0.1"
        self.port = port
        self.memory_mb = spec.memory_mb
        self.spec = spec
        self.log_path: str | None = None
        self.destroyed = False
        self.paused = False
        self.fail_resume = False
        self.pauses = 0

    def api_logs(self, since_ns: int) -> list[LogEntry]:
        return []

    def pause(self) -> None:
        self.paused = True
        self.pauses += 1

    def resume(self) -> None:
        if self.fail_resume:
            raise ContainerError("gone")
        self.paused = False

    def oom_killed(self) -> bool:
        return False

    def destroy(self) -> None:
        self.destroyed = True


class FakeFactory:
    def __init__(self) -> None:
        self.created: list[FakeContainer] = []
        self.port = 9  # discard: nothing listens, a connection is refused at once
        self.fail_next = False
        self.lock = threading.Lock()

    def create(self, spec: ContainerSpec) -> FakeContainer:
        with self.lock:
            if self.fail_next:
                self.fail_next = False
                raise RuntimeStartupError()
            container = FakeContainer(str(len(self.created) + 1), spec, self.port)
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


def spec(memory: int = 256, kind: str = "python:3", **kwargs: object) -> ContainerSpec:
    return ContainerSpec("img", memory, "guest", "a", kind, **kwargs)  # type: ignore[arg-type]


def stem(count: int = 1, memory: int = 256, kind: str = "python:3") -> StemCellSpec:
    return StemCellSpec(ContainerSpec("img", memory, "", "", kind, stem_cell=True), count)


@pytest.fixture
def factory() -> FakeFactory:
    return FakeFactory()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_pool(factory, clock) -> Iterator[object]:
    pools: list[ContainerPool] = []

    def make(memory: int = 512, idle: float = 60.0, policy: str = "running", grace: float = 10.0,
             **kwargs: object) -> ContainerPool:
        settings = InvokerSettings(user_memory_mb=memory, idle_timeout_s=idle, idle_policy=policy,
                                   pause_grace_s=grace)
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
    first.pooled.initialized = True
    pool.release(first, reusable=True)
    again = pool.acquire(A, spec())
    assert again.pooled is first.pooled and again.initialized
    assert again.proxy is first.proxy  # the kept-alive connection goes with the container
    assert len(factory.created) == 1


def test_other_key_gets_its_own_container(make_pool, factory):
    pool = make_pool()
    pool.release(pool.acquire(A, spec()), reusable=True)
    other = pool.acquire(B, spec())
    assert other.container is factory.created[1]
    stats = pool.stats()
    assert (stats["free"], stats["busy"], stats["used_mb"], stats["capacity_mb"]) == (1, 1, 512, 512)


def test_not_reusable_is_destroyed(make_pool, factory):
    pool = make_pool()
    lease = pool.acquire(A, spec())
    pool.release(lease, reusable=False)
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
    third = pool.acquire(C, spec())
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


def test_buffered_run_gives_up_after_its_timeout(make_pool):
    pool = make_pool(memory=256)
    pool.acquire(A, spec())
    with pytest.raises(BufferTimeout) as raised:
        pool.acquire(B, spec(), timeout_s=0.05)
    assert raised.value.waited_ms == 50
    assert "within the action's time limit of 50 milliseconds" in raised.value.message
    assert pool.stats()["waiting"] == 0


def test_run_buffer_serves_waiters_in_arrival_order(make_pool, factory):
    pool = make_pool(memory=256)
    holder = pool.acquire(A, spec())
    order: list[str] = []
    leases: dict[str, object] = {}
    threads = []
    for name, key in (("b", B), ("c", C)):
        def wait(name: str = name, key: tuple[str, str, str] = key) -> None:
            lease = pool.acquire(key, spec(), timeout_s=30)
            order.append(name)
            leases[name] = lease
        thread = threading.Thread(target=wait)
        thread.start()
        threads.append(thread)
        with pool._cond:  # the next waiter arrives only once this one is in the buffer
            assert pool._cond.wait_for(lambda n=len(threads): len(pool._queue) == n, 10)  # noqa: B008
    pool.release(holder, reusable=False)
    threads[0].join(10)
    assert order == ["b"]
    pool.release(leases["b"], reusable=False)  # type: ignore[arg-type]
    threads[1].join(10)
    assert order == ["b", "c"]


def settle(pool: ContainerPool, future: Future[object]) -> None:
    """Until the acquire running in ``future`` waits in the run buffer or is done (for at most 10 s)."""
    deadline = time.monotonic() + 10
    with pool._cond:
        while not (pool._queue or future.done()):
            assert time.monotonic() < deadline
            pool._cond.wait(0.01)


def warm_up(pool: ContainerPool, *keys: object) -> None:
    for key in keys:
        lease = pool.acquire(key, spec())  # type: ignore[arg-type]
        lease.pooled.initialized = True
        pool.release(lease, reusable=True)


def test_a_saturated_pool_waits_for_its_own_busy_container_instead_of_thrashing(make_pool, factory):
    # Room for two containers, two actions, and each action now and then asked for twice at once. Evicting the
    # other action's idle container for the second request only moves the cold start to that action's next
    # request, which evicts in turn: every overlap would cost a container.
    pool = make_pool(memory=512, warm_wait_s=10.0)
    warm_up(pool, A, B)
    with ThreadPoolExecutor(1) as executor:
        for _ in range(3):
            for key in (A, B):
                running = pool.acquire(key, spec())
                second = executor.submit(pool.acquire, key, spec(), 10)
                settle(pool, second)
                pool.release(running, reusable=True)
                pool.release(second.result(10), reusable=True)
    assert len(factory.created) == 2 and not any(c.destroyed for c in factory.created)


def test_a_container_idle_since_earlier_work_makes_room_at_once(make_pool, factory, clock):
    # The saturated pool's patience is for its working set; a container unused for STALE_S is not in it, and
    # waiting for it would hold A to the one container it had when memory ran out.
    pool = make_pool(memory=512, warm_wait_s=10.0)
    warm_up(pool, A, B)
    clock.now += STALE_S + 1
    held = pool.acquire(A, spec())
    started = time.monotonic()
    second = pool.acquire(A, spec(), timeout_s=10)
    assert time.monotonic() - started < 5  # no warm wait of 10 s
    assert second.pooled is not held.pooled and factory.created[1].destroyed  # b's stale container went


def test_a_run_waits_for_its_own_container_no_longer_than_the_warm_wait(make_pool, factory):
    pool = make_pool(memory=512, warm_wait_s=0.05)
    warm_up(pool, A, B)
    held = pool.acquire(A, spec())
    started = time.monotonic()
    second = pool.acquire(A, spec(), timeout_s=10)
    assert 0.05 <= time.monotonic() - started < 5
    assert second.pooled is not held.pooled and factory.created[1].destroyed  # then b's idle one goes


def test_a_warm_reuse_goes_past_a_run_waiting_for_its_own_container(make_pool, factory):
    pool = make_pool(memory=512, warm_wait_s=10.0)
    warm_up(pool, A, B)
    held = pool.acquire(A, spec())
    with ThreadPoolExecutor(1) as executor:
        waiting = executor.submit(pool.acquire, A, spec(), 10)
        settle(pool, waiting)
        other = pool.acquire(B, spec(), timeout_s=1)  # b's idle container, without queueing behind a
        assert other.container is factory.created[1] and not waiting.done()
        pool.release(held, reusable=True)
        assert waiting.result(10).pooled is held.pooled
    assert len(factory.created) == 2


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


def test_housekeeper_reaps_on_its_own(factory):
    settings = InvokerSettings(user_memory_mb=512, idle_timeout_s=0.01)
    pool = ContainerPool(factory, settings, reap_interval_s=0.01)
    try:
        pool.release(pool.acquire(A, spec()), reusable=True)
        with pool._cond:
            assert pool._cond.wait_for(lambda: not pool._containers, timeout=5)
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


# --- stem cells ---------------------------------------------------------------------------------------


def test_stem_cells_start_at_once_and_serve_a_first_invoke(make_pool, factory):
    pool = make_pool(memory=1024, stem_cells=[stem(2)])
    assert pool.wait_prewarmed(10)
    assert [c.spec.stem_cell for c in factory.created] == [True, True]
    lease = pool.acquire(A, spec())
    assert lease.from_prewarm and lease.container in factory.created[:2]
    assert not lease.initialized  # a stem cell still needs /init
    assert pool.stats()["prewarm"] == 1  # not replaced while its /init and /run compete for the CPU
    pool.release(lease, reusable=True)
    assert pool.wait_prewarmed(10)  # replaced in the background once the activation is done
    assert len(factory.created) == 3 and factory.created[2].spec.stem_cell


def test_a_stem_cell_is_connected_to_before_an_activation_takes_it(make_pool, factory):
    """The activation that takes a stem cell finds its proxy connection open: none is made at its /init."""
    with socket.create_server(("127.0.0.1", 0)) as proxy:
        proxy.settimeout(5)
        port = proxy.getsockname()[1]
        factory.port = port
        pool = make_pool(memory=1024, stem_cells=[stem(1)])
        assert pool.wait_prewarmed(10)
        accepted, _ = proxy.accept()  # made by the pool while the stem cell waited
        with accepted:
            lease = pool.acquire(A, spec())
            assert lease.from_prewarm
            assert lease.proxy.connect(1.0)  # the open connection, not a new one
            proxy.settimeout(0.2)
            with pytest.raises(TimeoutError):
                proxy.accept()
            pool.release(lease, reusable=False)


def test_a_stem_cell_whose_proxy_refuses_still_serves(make_pool, factory):
    with socket.create_server(("127.0.0.1", 0)) as closed:
        factory.port = closed.getsockname()[1]
    pool = make_pool(memory=1024, stem_cells=[stem(1)])  # nothing listens there now: connecting is refused
    assert pool.wait_prewarmed(10)
    lease = pool.acquire(A, spec())
    assert lease.from_prewarm
    pool.release(lease, reusable=False)


def test_stem_cells_match_kind_and_memory_exactly(make_pool, factory):
    pool = make_pool(memory=1024, stem_cells=[stem(1)])
    assert pool.wait_prewarmed(10)
    assert not pool.acquire(A, spec(memory=512)).from_prewarm
    assert not pool.acquire(B, spec(kind="nodejs:20")).from_prewarm
    assert not pool.acquire(C, spec(user_image=True)).from_prewarm  # blackbox images are never prewarmed


def test_stem_cells_give_way_to_actions_when_memory_is_short(make_pool, factory):
    pool = make_pool(memory=512, stem_cells=[stem(2)])
    assert pool.wait_prewarmed(10)
    lease = pool.acquire(B, spec(kind="nodejs:20"))
    assert not lease.from_prewarm
    assert sum(c.destroyed for c in factory.created[:2]) == 1
    pool.release(lease, reusable=False)
    assert pool.wait_prewarmed(10)  # the memory came back: the stem cell is replaced


def test_a_failing_stem_cell_does_not_stop_the_pool(make_pool, factory):
    factory.fail_next = True
    pool = make_pool(memory=512, stem_cells=[stem(1)])
    lease = pool.acquire(A, spec(kind="nodejs:20"))
    assert lease.container.spec.kind == "nodejs:20"  # type: ignore[attr-defined]


# --- idle policy --------------------------------------------------------------------------------------


def test_pause_policy_pauses_idle_containers_and_resumes_on_reuse(make_pool, factory, clock):
    pool = make_pool(policy="pause", grace=10.0)
    lease = pool.acquire(A, spec())
    lease.pooled.initialized = True
    pool.release(lease, reusable=True)
    clock.now += 9
    assert pool.pause_idle() == 0
    clock.now += 1
    assert pool.pause_idle() == 1 and factory.created[0].paused
    assert pool.pause_idle() == 0  # already paused
    again = pool.acquire(A, spec())
    assert again.pooled is lease.pooled and not factory.created[0].paused


def test_running_policy_never_pauses(make_pool, factory, clock):
    pool = make_pool(policy="running")
    pool.release(pool.acquire(A, spec()), reusable=True)
    clock.now += 3600
    assert pool.pause_idle() == 0 and factory.created[0].pauses == 0


def test_a_container_that_cannot_be_resumed_is_replaced(make_pool, factory, clock):
    pool = make_pool(policy="pause", grace=1.0)
    lease = pool.acquire(A, spec())
    pool.release(lease, reusable=True)
    clock.now += 1
    pool.pause_idle()
    factory.created[0].fail_resume = True
    again = pool.acquire(A, spec())
    assert factory.created[0].destroyed and again.container is factory.created[1]


# --- concurrency --------------------------------------------------------------------------------------


def test_concurrent_activations_share_a_warm_container(make_pool, factory):
    pool = make_pool(memory=256)
    first = pool.acquire(A, spec(), concurrency=2)
    first.pooled.initialized = True
    second = pool.acquire(A, spec(), timeout_s=1, concurrency=2)
    assert second.pooled is first.pooled and second.proxy is not first.proxy
    with pytest.raises(BufferTimeout):  # both slots taken, no memory for another container
        pool.acquire(A, spec(), timeout_s=0.05, concurrency=2)
    pool.release(first, reusable=False)
    assert not factory.created[0].destroyed  # the other activation still runs in it
    with pytest.raises(BufferTimeout):  # but it takes no new one
        pool.acquire(A, spec(), timeout_s=0.05, concurrency=2)
    pool.release(second, reusable=True)
    assert factory.created[0].destroyed  # the last one out destroys it
    assert pool.stats()["used_mb"] == 0


def test_a_container_still_initialising_takes_no_second_activation(make_pool, factory):
    pool = make_pool(memory=512)
    first = pool.acquire(A, spec(), concurrency=2)
    second = pool.acquire(A, spec(), concurrency=2)
    assert second.pooled is not first.pooled
