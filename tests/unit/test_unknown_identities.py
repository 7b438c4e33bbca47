"""IdentityService and unknown uuids: the store's "no such uuid" is remembered as briefly as a found identity (a
bounded number of them), and every failed check costs the same hash and compare, whether the uuid is unknown, the
key wrong or the subject blocked."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.core import identities as core_identities
from app.core.errors import StoreUnavailable, Unauthorized
from app.core.services import IdentityService
from app.core.services import identities as identity_service
from tests.fakes import Clock, DictSubjects

pytestmark = pytest.mark.unit

UNKNOWN = "00000000-0000-4000-8000-000000000000"






def _refused(ids: IdentityService, uuid: str, key: str = "k" * 64) -> None:
    with pytest.raises(Unauthorized):
        ids.authenticate(uuid, key)


def test_an_unknown_uuid_costs_one_store_read_per_cache_time() -> None:
    store, clock = DictSubjects(), Clock()
    ids = IdentityService(store, cache_seconds=5, clock=clock)
    for _ in range(50):
        _refused(ids, UNKNOWN)
    assert store.lookups == [UNKNOWN]
    with pytest.raises(Unauthorized):
        ids.lookup(UNKNOWN)  # an admin session's check uses the same memory
    assert store.lookups == [UNKNOWN]
    clock.now = 5.1
    _refused(ids, UNKNOWN)
    assert store.lookups == [UNKNOWN, UNKNOWN]


def test_without_a_cache_time_nothing_is_remembered() -> None:
    store = DictSubjects()
    ids = IdentityService(store, cache_seconds=0)
    _refused(ids, UNKNOWN)
    _refused(ids, UNKNOWN)
    assert store.lookups == [UNKNOWN, UNKNOWN]


def test_the_unknown_uuids_remembered_are_bounded_oldest_first() -> None:
    store = DictSubjects()
    ids = IdentityService(store, cache_seconds=60, clock=Clock())
    flood = [f"random-{n}" for n in range(identity_service.UNKNOWN_KEPT + 1)]
    for uuid in flood:
        _refused(ids, uuid)
    store.lookups.clear()
    _refused(ids, flood[-1])
    assert store.lookups == []  # the newest is still remembered
    _refused(ids, flood[0])
    assert store.lookups == [flood[0]]  # the oldest was dropped to make room


def test_a_uuid_created_after_it_was_asked_for_works_at_once() -> None:
    store = DictSubjects()
    ids = IdentityService(store, cache_seconds=60, clock=Clock())
    credentials = f"{UNKNOWN}:{'k' * 64}"
    _refused(ids, UNKNOWN)
    ids.create("late", credentials=credentials)
    assert ids.authenticate(UNKNOWN, "k" * 64).namespace == "late"


def test_a_revoked_key_is_remembered_as_unknown() -> None:
    store, clock = DictSubjects(), Clock()
    ids = IdentityService(store, cache_seconds=5, clock=clock)
    uuid, key = ids.create("gone").split(":")
    ids.authenticate(uuid, key)
    other = IdentityService(store, cache_seconds=5, clock=clock)  # another controller deletes the subject
    other.delete("gone")
    clock.now = 5.1
    _refused(ids, uuid, key)
    _refused(ids, uuid, key)
    assert store.lookups.count(uuid) == 2  # the first authenticate and the one that found it gone


def test_an_unknown_uuid_during_an_outage_is_not_remembered_as_unknown() -> None:
    store = DictSubjects()
    ids = IdentityService(store, cache_seconds=60, clock=Clock())
    store.down = True
    with pytest.raises(StoreUnavailable):
        ids.authenticate(UNKNOWN, "k" * 64)  # 503: the store could not say, so it is not a wrong key
    store.down = False
    ids.create("back", credentials=f"{UNKNOWN}:{'k' * 64}")
    assert ids.authenticate(UNKNOWN, "k" * 64).namespace == "back"


@pytest.fixture
def compares(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stored hashes each key check compared a key with, in order."""
    seen: list[str] = []
    real: Callable[[str, str], bool] = core_identities.key_matches

    def recording(key: str, stored: str) -> bool:
        seen.append(stored)
        return real(key, stored)

    monkeypatch.setattr(identity_service, "key_matches", recording)
    return seen


def test_every_refusal_costs_one_compare_whatever_its_reason(compares: list[str]) -> None:
    store = DictSubjects()
    ids = IdentityService(store, cache_seconds=60, clock=Clock())
    uuid, key = ids.create("known").split(":")
    blocked_uuid, blocked_key = ids.create("blocked").split(":")
    ids.set_blocked("blocked", True)

    _refused(ids, UNKNOWN)  # unknown uuid, read from the store
    _refused(ids, UNKNOWN)  # unknown uuid, remembered
    _refused(ids, uuid)  # wrong key
    _refused(ids, blocked_uuid, blocked_key)  # right key, blocked subject
    assert len(compares) == 4
    decoy = compares[0]
    assert compares[1] == decoy  # against a stand-in hash, the same one each time
    assert decoy.startswith("sha256$") and decoy not in {n.key_hash for s in store.docs.values() for n in s.namespaces}
    compares.clear()
    assert ids.authenticate(uuid, key).namespace == "known"
    assert len(compares) == 1
