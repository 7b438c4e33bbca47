from __future__ import annotations

from collections.abc import Hashable

import pytest

from app.core.scheduling import (
    AwaitWarm,
    ContainerView,
    Impossible,
    Place,
    Request,
    Reuse,
    Slot,
    Start,
    StemKey,
    TakePrewarm,
    Wait,
    choose_evictions,
    expired,
    schedule,
    stem_cells_to_start,
    to_pause,
    used_memory,
)

pytestmark = pytest.mark.unit

A = ("guest", "guest/a", "1-x")
B = ("guest", "guest/b", "1-y")
A_OTHER_USER = ("alice", "guest/a", "1-x")
A_NEW_REV = ("guest", "guest/a", "2-z")


PY = StemKey("python:3", 256)


def view(cid: str, key: Hashable = A, memory: int = 256, slot: Slot = Slot.FREE, last_used: float = 0.0,
         **kwargs: object):
    return ContainerView(cid, key, memory, slot, last_used, **kwargs)  # type: ignore[arg-type]


def test_empty_pool_starts_a_container():
    assert schedule([], Request(A, 256), 1024) == Start()


def test_reuses_a_free_container_of_the_exact_key():
    pool = [view("1", B), view("2", A)]
    assert schedule(pool, Request(A, 256), 1024) == Reuse("2")


def test_prefers_the_most_recently_used_warm_container():
    pool = [view("old", A, last_used=1.0), view("new", A, last_used=5.0)]
    assert schedule(pool, Request(A, 256), 1024) == Reuse("new")


def test_busy_container_of_the_key_is_not_reused():
    pool = [view("1", A, slot=Slot.BUSY, active=1)]
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


# --- stem cells -------------------------------------------------------------------------------------


def test_takes_a_stem_cell_of_the_kind_and_memory():
    pool = [view("n", StemKey("nodejs:20", 256), slot=Slot.PREWARM), view("p", PY, slot=Slot.PREWARM)]
    assert schedule(pool, Request(A, 256, "python:3"), 512) == TakePrewarm("p")


def test_warm_container_wins_over_a_stem_cell():
    pool = [view("p", PY, slot=Slot.PREWARM), view("w", A)]
    assert schedule(pool, Request(A, 256, "python:3"), 1024) == Reuse("w")


def test_no_stem_cell_for_other_memory_or_without_kind():
    pool = [view("p", PY, slot=Slot.PREWARM)]
    assert schedule(pool, Request(A, 512, "python:3"), 1024) == Start()
    assert schedule(pool, Request(A, 256, None), 1024) == Start()


def test_stem_cells_are_evicted_after_free_warm_containers():
    pool = [view("p", PY, slot=Slot.PREWARM, last_used=0.0), view("w", B, last_used=5.0)]
    assert schedule(pool, Request(A, 256, "nodejs:20"), 512) == Start(("w",))
    assert schedule(pool, Request(A, 512, "nodejs:20"), 512) == Start(("w", "p"))


def test_starting_containers_are_never_evicted():
    pool = [view("s", B, slot=Slot.STARTING)]
    assert schedule(pool, Request(A, 256), 256) == Wait()


def test_stem_cells_to_start_fills_up_to_the_count_in_free_memory():
    wanted = {PY: 2, StemKey("nodejs:20", 256): 1}
    assert stem_cells_to_start([], wanted, 1024, waiting=False) == [PY, PY, StemKey("nodejs:20", 256)]
    have = [view("p", PY, slot=Slot.PREWARM), view("s", PY, slot=Slot.STARTING)]
    assert stem_cells_to_start(have, {PY: 2}, 1024, waiting=False) == []
    assert stem_cells_to_start([view("p", PY, slot=Slot.PREWARM)], {PY: 2}, 1024, waiting=False) == [PY]


def test_stem_cells_never_take_memory_from_waiting_runs_or_by_eviction():
    assert stem_cells_to_start([], {PY: 2}, 1024, waiting=True) == []
    assert stem_cells_to_start([view("w", B, memory=768)], {PY: 2}, 1024, waiting=False) == [PY]


# --- concurrency ------------------------------------------------------------------------------------


def test_busy_warm_container_with_room_takes_another_activation():
    pool = [view("busy", A, slot=Slot.BUSY, active=1, concurrency=3), view("free", A)]
    assert schedule(pool, Request(A, 256, concurrency=3), 1024) == Reuse("busy")


def test_full_or_initialising_busy_containers_take_no_more():
    full = view("full", A, slot=Slot.BUSY, active=2, concurrency=2)
    cold = view("cold", A, slot=Slot.BUSY, active=1, concurrency=2, warm=False)
    assert schedule([full, cold], Request(A, 256, concurrency=2), 1024) == Start()


# --- idle policy ------------------------------------------------------------------------------------


def test_to_pause_lists_running_free_containers_idle_past_the_grace():
    pool = [view("idle", last_used=0.0), view("paused", last_used=0.0, paused=True),
            view("fresh", last_used=95.0), view("busy", slot=Slot.BUSY), view("stem", PY, slot=Slot.PREWARM)]
    assert to_pause(pool, now=100.0, grace=10.0) == ["idle"]


# --- a saturated pool: waiting for warm containers instead of evicting ----------------------------------


def test_waits_for_its_own_busy_container_rather_than_evicting_another_key():
    # The thrash: evicting b's idle container for a second container of a only moves the cold start to b's next
    # request, which evicts a's, and so on for as long as the load lasts.
    pool = [view("a", A, slot=Slot.BUSY, active=1), view("b", B)]
    assert schedule(pool, Request(A, 256), 512) == AwaitWarm()


def test_stale_containers_make_room_rather_than_the_run_waiting_for_its_own():
    # A stream of one action behind idle containers of earlier work: those keys are not part of the load, so
    # evicting them moves no cold start anywhere, and waiting would hold the action to the containers it had.
    C = ("guest", "guest/c", "1-c")
    pool = [view("a", A, slot=Slot.BUSY, active=1), view("b", B, last_used=10.0), view("c", C, last_used=1.0)]
    assert schedule(pool, Request(A, 256), 768, Place(stale_before=5.0)) == Start(("c",))
    # Recently used ones are the saturated pool's working set: still waited for, not thrashed.
    assert schedule(pool, Request(A, 256), 768, Place(stale_before=0.5)) == AwaitWarm()
    # Nor is a stale container taken whose key has a run waiting behind the head.
    assert schedule(pool, Request(A, 256), 768, Place(behind=(C,), stale_before=5.0)) == AwaitWarm()


def test_a_starting_container_of_the_key_is_worth_waiting_for_too():
    pool = [view("s", A, slot=Slot.STARTING), view("b", B)]
    assert schedule(pool, Request(A, 256), 512) == AwaitWarm()


def test_starts_rather_than_waits_while_memory_is_free():
    pool = [view("a", A, slot=Slot.BUSY, active=1)]
    assert schedule(pool, Request(A, 256), 512) == Start()


def test_evicts_when_no_container_of_its_key_is_coming_back():
    pool = [view("b1", B, slot=Slot.BUSY), view("b2", B)]
    assert schedule(pool, Request(A, 256), 512) == Start(("b2",))


def test_waits_however_many_of_its_key_wait_behind_it():
    # Only time ends the wait (the pool's patience): counting waiters would evict the containers of every other
    # action the moment a backlog forms, which is when the pool can least afford cold starts.
    pool = [view("a", A, slot=Slot.BUSY, active=1), view("b", B)]
    assert schedule(pool, Request(A, 256), 512, Place(behind=(A, A, A))) == AwaitWarm()


def test_evicts_once_the_head_waited_out_its_patience():
    pool = [view("a", A, slot=Slot.BUSY, active=1), view("b", B)]
    assert schedule(pool, Request(A, 256), 512, Place(patient=False)) == Start(("b",))


def test_never_evicts_an_idle_container_whose_key_is_waiting_in_the_run_buffer():
    C = ("guest", "guest/c", "1-c")
    pool = [view("b", B, last_used=1.0), view("c", C, last_used=2.0)]
    assert schedule(pool, Request(A, 256), 512, Place(behind=(B,))) == Start(("c",))  # not b, the older
    assert schedule(pool, Request(A, 256), 512, Place(behind=(B, C))) == Wait()  # they take theirs first
    assert schedule(pool, Request(A, 256), 512, Place(behind=(B, C), patient=False)) == Start(("b",))


def test_a_warm_reuse_goes_past_a_head_waiting_for_memory():
    pool = [view("a", A, slot=Slot.BUSY, active=1), view("b", B)]
    assert schedule(pool, Request(B, 256), 512, Place(ahead=(A,))) == Reuse("b")


def test_only_the_head_starts_takes_a_stem_cell_or_evicts():
    assert schedule([], Request(A, 256), 512, Place(ahead=(B,))) == Wait()
    pool = [view("p", PY, slot=Slot.PREWARM), view("c", B)]
    assert schedule(pool, Request(A, 256, "python:3"), 512, Place(ahead=(B,))) == Wait()


def test_requests_of_one_key_keep_their_order():
    pool = [view("a", A), view("b", B, slot=Slot.BUSY)]
    assert schedule(pool, Request(A, 256), 512, Place(ahead=(B, A))) == Wait()  # the earlier one takes it
    shared = [view("a", A, slot=Slot.BUSY, active=1, concurrency=3)]
    assert schedule(shared, Request(A, 256, concurrency=3), 256, Place(ahead=(B, A))) == Reuse("a")  # room for both


def test_past_the_heads_patience_the_run_buffer_is_strictly_first_come_first_served():
    pool = [view("a", A, slot=Slot.BUSY, active=1), view("b", B)]
    assert schedule(pool, Request(B, 256), 512, Place(ahead=(A,), patient=False)) == Wait()


def test_evicts_a_keys_spare_container_before_any_keys_last_one():
    C = ("guest", "guest/c", "1-c")
    pool = [view("c", C, last_used=0.0), view("b-free", B, last_used=1.0), view("b-busy", B, slot=Slot.BUSY)]
    assert schedule(pool, Request(A, 256), 768) == Start(("b-free",))  # c, older, is all c has
    both_free = [view("c", C, last_used=0.0), view("b1", B, last_used=1.0), view("b2", B, last_used=2.0)]
    assert choose_evictions(both_free, 512) == ("b1", "c")  # b2 is b's last one now: c goes first by age
