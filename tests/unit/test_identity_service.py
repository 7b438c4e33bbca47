"""IdentityService: key checks, the short cache (and its last good identities while the store is down), seeding
and blocking, over a dict-backed SubjectStore."""

from __future__ import annotations

import pytest

from app.core.errors import Conflict, NotFound, StoreUnavailable, Unauthorized
from app.core.identities import WELL_KNOWN
from app.core.services import IdentityService
from tests.fakes import Clock, DictSubjects

pytestmark = pytest.mark.unit






def test_create_prints_a_key_that_authenticates_and_is_stored_hashed() -> None:
    store = DictSubjects()
    ids = IdentityService(store)
    uuid, key = ids.create("alice").split(":")
    assert ids.authenticate(uuid, key).namespace == "alice"
    assert key not in str(store.docs["alice"].to_doc())
    with pytest.raises(Unauthorized):
        ids.authenticate(uuid, key[:-1] + ("a" if key[-1] != "a" else "b"))
    with pytest.raises(Unauthorized):
        ids.authenticate("no-such-uuid", key)
    with pytest.raises(Conflict):
        ids.create("alice")


def test_lookups_are_cached_for_a_few_seconds() -> None:
    store, clock = DictSubjects(), Clock()
    ids = IdentityService(store, cache_seconds=5, clock=clock)
    uuid, key = ids.create("bob").split(":")
    ids.authenticate(uuid, key)
    ids.authenticate(uuid, key)
    assert len(store.lookups) == 1
    clock.now = 6
    ids.authenticate(uuid, key)
    assert len(store.lookups) == 2


def test_seed_uses_the_well_known_keys_once() -> None:
    ids = IdentityService(DictSubjects())
    assert ids.seed() == ["guest", "whisk.system"]
    assert ids.seed() == []
    uuid, key = WELL_KNOWN["guest"].split(":")
    assert ids.authenticate(uuid, key).subject == "guest"


def test_blocked_subjects_are_refused_and_unblocked_ones_return() -> None:
    ids = IdentityService(DictSubjects(), cache_seconds=0)
    uuid, key = ids.create("carol").split(":")
    ids.set_blocked("carol", True)
    with pytest.raises(Unauthorized):
        ids.authenticate(uuid, key)
    ids.set_blocked("carol", False)
    assert ids.authenticate(uuid, key).namespace == "carol"
    ids.delete("carol")
    with pytest.raises(Unauthorized):
        ids.authenticate(uuid, key)


def test_rotate_key_replaces_the_key_and_the_old_one_stops_working_at_once() -> None:
    service = IdentityService(DictSubjects(), cache_seconds=60)
    old = service.create("alice")
    service.authenticate(*old.split(":", 1))  # cached now
    new = service.rotate_key("alice", "alice")
    assert new != old
    assert service.authenticate(*new.split(":", 1)).namespace == "alice"
    with pytest.raises(Unauthorized):
        service.authenticate(*old.split(":", 1))


def test_revoke_key_removes_the_namespace_key_and_its_lookup() -> None:
    service = IdentityService(DictSubjects(), cache_seconds=60)
    auth = service.create("alice")
    uuid = auth.split(":", 1)[0]
    assert service.lookup(uuid).namespace == "alice"
    service.revoke_key("alice", "alice")
    with pytest.raises(Unauthorized):
        service.lookup(uuid)
    with pytest.raises(NotFound):
        service.revoke_key("alice", "alice")
    with pytest.raises(NotFound):
        service.rotate_key("alice", "alice")


def test_lookup_refuses_a_blocked_subject_and_owner_of_finds_any_namespace() -> None:
    service = IdentityService(DictSubjects(), cache_seconds=0)
    auth = service.create("alice")
    service.create("team", subject="alice")
    assert [i.namespace for i in service.identities()] == ["alice", "team"]
    assert service.owner_of("team").subject == "alice"
    with pytest.raises(NotFound):
        service.owner_of("nobody")
    service.set_blocked("alice", True)
    with pytest.raises(Unauthorized):
        service.lookup(auth.split(":", 1)[0])


def test_while_the_store_is_down_a_known_key_is_served_from_its_last_lookup() -> None:
    store, clock = DictSubjects(), Clock()
    ids = IdentityService(store, cache_seconds=5, clock=clock, stale_seconds=300)
    uuid, key = ids.create("dave").split(":")
    ids.authenticate(uuid, key)
    store.down = True
    clock.now = 60
    assert ids.authenticate(uuid, key).namespace == "dave"
    with pytest.raises(Unauthorized):  # a wrong key stays wrong
        ids.authenticate(uuid, key[:-1] + ("a" if key[-1] != "a" else "b"))
    clock.now = 301  # looked up at 0: too long ago to vouch for it
    with pytest.raises(StoreUnavailable):
        ids.authenticate(uuid, key)


def test_while_the_store_is_down_an_unknown_key_is_unavailable_not_unauthorized() -> None:
    store = DictSubjects()
    ids = IdentityService(store, cache_seconds=5, stale_seconds=300)
    uuid, key = ids.create("erin").split(":")
    store.down = True
    with pytest.raises(StoreUnavailable):
        ids.authenticate(uuid, key)


def test_a_key_blocked_or_revoked_during_the_outage_is_refused_once_the_store_is_back() -> None:
    store, clock = DictSubjects(), Clock()
    ids = IdentityService(store, cache_seconds=5, clock=clock, stale_seconds=300)
    admin = IdentityService(store, cache_seconds=0)  # another controller, or the CLI
    blocked = ids.create("frank").split(":")
    revoked = ids.create("grace").split(":")
    ids.authenticate(*blocked)
    ids.authenticate(*revoked)
    admin.set_blocked("frank", True)  # as the outage begins: this controller has not seen it
    admin.revoke_key("grace", "grace")
    store.down = True
    clock.now = 10
    ids.authenticate(*blocked)
    ids.authenticate(*revoked)
    store.down = False
    clock.now = 16
    with pytest.raises(Unauthorized):
        ids.authenticate(*blocked)
    with pytest.raises(Unauthorized):
        ids.authenticate(*revoked)
    store.down = True  # and a second outage does not bring the revoked key back
    clock.now = 30
    with pytest.raises(StoreUnavailable):
        ids.authenticate(*revoked)
    with pytest.raises(Unauthorized):
        ids.authenticate(*blocked)
