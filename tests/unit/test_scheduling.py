from __future__ import annotations

from collections.abc import Hashable

import pytest

from app.core.scheduling import (
    ContainerView,
    Impossible,
    Request,
    Reuse,
    Slot,
    Start,
    Wait,
    choose_evictions,
    expired,
    schedule,
    used_memory,
)

pytestmark = pytest.mark.unit

A = ("guest", "guest/a", "1-x")
B = ("guest", "guest/b", "1-y")
A_OTHER_USER = ("alice", "guest/a", "1-x")
A_NEW_REV = ("guest", "guest/a", "2-z")


def view(cid: str, key: Hashable = A, memory: int = 256, slot: Slot = Slot.FREE, last_used: float = 0.0):
    return ContainerView(cid, key, memory, slot, last_used)


def test_empty_pool_starts_a_container():
    assert schedule([], Request(A, 256), 1024) == Start()


def test_reuses_a_free_container_of_the_exact_key():
    pool = [view("1", B), view("2", A)]
    assert schedule(pool, Request(A, 256), 1024) == Reuse("2")


def test_prefers_the_most_recently_used_warm_container():
    pool = [view("old", A, last_used=1.0), view("new", A, last_used=5.0)]
    assert schedule(pool, Request(A, 256), 1024) == Reuse("new")


def test_busy_container_of_the_key_is_not_reused():
    pool = [view("1", A, slot=Slot.BUSY)]
    assert schedule(pool, Request(A, 256), 1024) == Start()


def test_other_invoking_namespace_never_shares_a_container():
    assert schedule([view("1", A_OTHER_USER)], Request(A, 256), 1024) == Start()


def test_updated_action_never_reuses_an_old_revision():
    assert schedule([view("1", A)], Request(A_NEW_REV, 256), 1024) == Start()


def test_starts_when_memory_fits_beside_busy_and_free():
    pool = [view("1", B, slot=Slot.BUSY), view("2", B)]
    assert schedule(pool, Request(A, 512), 1024) == Start()


def test_evicts_least_recently_used_free_containers_to_make_room():
    pool = [
        view("busy", B, slot=Slot.BUSY, last_used=0.0),
        view("newer", B, last_used=9.0),
        view("oldest", B, last_used=1.0),
        view("older", B, last_used=2.0),
    ]
    # 1024 capacity, 1024 used: a 512 MB request needs the two oldest free ones gone.
    assert schedule(pool, Request(A, 512), 1024) == Start(("oldest", "older"))


def test_evicts_only_as_much_as_needed():
    pool = [view("1", B, last_used=1.0), view("2", B, last_used=2.0), view("3", B, slot=Slot.BUSY)]
    assert schedule(pool, Request(A, 256), 768) == Start(("1",))


def test_waits_when_only_busy_containers_hold_the_memory():
    pool = [view("1", B, slot=Slot.BUSY), view("2", B, slot=Slot.BUSY)]
    assert schedule(pool, Request(A, 256), 512) == Wait()


def test_waits_rather_than_evicting_when_evicting_all_free_is_not_enough():
    pool = [view("busy", B, memory=512, slot=Slot.BUSY), view("free", B, memory=256)]
    assert schedule(pool, Request(A, 512), 768) == Wait()


def test_request_larger_than_the_pool_is_impossible():
    assert schedule([], Request(A, 512), 256) == Impossible(512, 256)


def test_warm_reuse_wins_even_when_the_pool_is_full():
    pool = [view("1", A), view("2", B, slot=Slot.BUSY)]
    assert schedule(pool, Request(A, 256), 512) == Reuse("1")


def test_choose_evictions_returns_none_when_free_memory_is_short():
    assert choose_evictions([view("1", memory=128)], 256) is None
    assert choose_evictions([], 1) is None
    assert choose_evictions([view("1", memory=128)], 0) == ()


def test_expired_lists_free_containers_idle_too_long():
    pool = [
        view("idle", last_used=0.0),
        view("fresh", last_used=95.0),
        view("busy", slot=Slot.BUSY, last_used=0.0),
    ]
    assert expired(pool, now=100.0, idle_timeout=10.0) == ["idle"]


def test_used_memory_counts_every_container():
    assert used_memory([view("1", memory=128), view("2", memory=256, slot=Slot.BUSY)]) == 384
