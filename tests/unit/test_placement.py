"""Placement over several invokers: rendezvous homes, overflow in each action's own order, no room anywhere."""

from __future__ import annotations

import collections

import pytest

from app.core.placement import Placement, place, rendezvous

pytestmark = pytest.mark.unit

INVOKERS = [f"invoker{i}" for i in range(5)]
KEYS = [f"guest|guest/action{i}" for i in range(2000)]


def test_the_order_is_stable_and_independent_of_how_the_names_are_listed() -> None:
    assert rendezvous("k", INVOKERS) == rendezvous("k", list(reversed(INVOKERS)))
    assert sorted(rendezvous("k", INVOKERS)) == sorted(INVOKERS)


def test_homes_spread_evenly() -> None:
    homes = collections.Counter(rendezvous(key, INVOKERS)[0] for key in KEYS)
    assert set(homes) == set(INVOKERS)
    assert max(homes.values()) < 1.25 * len(KEYS) / len(INVOKERS)


def test_an_invoker_leaving_moves_only_its_own_actions() -> None:
    before = {key: rendezvous(key, INVOKERS)[0] for key in KEYS}
    after = {key: rendezvous(key, INVOKERS[1:])[0] for key in KEYS}
    moved = [key for key in KEYS if before[key] != after[key]]
    assert moved and all(before[key] == "invoker0" for key in moved)


def test_an_invoker_joining_takes_only_the_actions_it_now_heads() -> None:
    before = {key: rendezvous(key, INVOKERS)[0] for key in KEYS}
    after = {key: rendezvous(key, [*INVOKERS, "new"])[0] for key in KEYS}
    moved = [key for key in KEYS if before[key] != after[key]]
    assert moved and all(after[key] == "new" for key in moved)
    assert len(moved) < 1.5 * len(KEYS) / (len(INVOKERS) + 1)


def test_the_home_takes_it_while_it_has_room() -> None:
    home = rendezvous("k", INVOKERS)[0]
    assert place("k", INVOKERS, lambda name: True) == Placement(home, reserved=True)


def test_overflow_follows_the_actions_own_order() -> None:
    order = rendezvous("k", INVOKERS)
    asked: list[str] = []

    def reserve(name: str) -> bool:
        asked.append(name)
        return name == order[2]

    assert place("k", INVOKERS, reserve) == Placement(order[2], reserved=True)
    assert asked == order[:3]


def test_no_room_anywhere_goes_home_unreserved_and_no_invoker_is_none() -> None:
    assert place("k", INVOKERS, lambda name: False) == Placement(rendezvous("k", INVOKERS)[0], reserved=False)
    assert place("k", [], lambda name: True) is None
