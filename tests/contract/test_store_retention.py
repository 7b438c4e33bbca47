"""The retention part of the store contract (``ExpiringActivations``), on every store of ``test_store``: which
namespaces hold records, and deleting the oldest of one namespace in bounded batches — then the sweep itself
(``RetentionService``) over the same real stores."""

from __future__ import annotations

import threading

import pytest

from app.core.errors import StoreError
from app.core.services.retention import DAY_MS, RetentionService
from app.store import Store
from tests.contract import test_store as contract
from tests.contract.test_store import activation_doc

pytestmark = pytest.mark.contract

couch_store = contract.couch_store  # the contract suite's fixtures, one store of each kind per test
sqlite_store = contract.sqlite_store


@pytest.fixture(params=sorted(contract.STORE_FIXTURES))
def any_store(request: pytest.FixtureRequest) -> Store:
    fixture: Store = request.getfixturevalue(contract.STORE_FIXTURES[request.param])
    return fixture

NOW = 1_800_000_000_000


def _put(store: Store, namespace: str, starts: list[int]) -> list[str]:
    docs = [activation_doc(namespace, "a", start=start) for start in starts]
    assert store.put_activations(docs) == [None] * len(docs)
    return [doc["activationId"] for doc in docs]


def _left(store: Store, namespace: str) -> list[int]:
    return sorted(d["start"] for d in store.list_activations(namespace, None, None, None, skip=0, limit=1000))


def test_namespaces_with_records_are_listed_once_each(any_store: Store) -> None:
    store = any_store
    assert store.activation_namespaces() == []
    _put(store, "b", [1, 2])
    _put(store, "a", [3])
    _put(store, "a/pkg-looking", [4])  # not a namespace a subject has, but records are listed by what they hold
    assert store.activation_namespaces() == ["a", "a/pkg-looking", "b"]


def test_delete_before_takes_the_oldest_of_one_namespace_in_bounded_batches(any_store: Store) -> None:
    store = any_store
    _put(store, "guest", [10, 20, 30, 40, 50])
    _put(store, "other", [10, 20])

    assert store.delete_activations_before("guest", 45, limit=2) == 2  # 10 and 20: the oldest first
    assert _left(store, "guest") == [30, 40, 50]
    assert store.delete_activations_before("guest", 45, limit=2) == 2
    assert _left(store, "guest") == [50]
    assert store.delete_activations_before("guest", 50, limit=2) == 0  # before, not at
    assert _left(store, "other") == [10, 20]  # another namespace's records are never touched
    assert store.count_activations("guest", None, None, None) == 1
    assert store.activation_namespaces() == ["guest", "other"]


def test_deleted_records_are_gone_for_every_reader(any_store: Store) -> None:
    store = any_store
    [old, new] = _put(store, "guest", [100, 200])
    assert store.delete_activations_before("guest", 150, limit=10) == 1
    with pytest.raises(Exception) as gone:
        store.get_activation("guest", old)
    assert type(gone.value).__name__ == "NotFound"
    assert store.get_activation("guest", new)["start"] == 200
    store.put_activation(activation_doc("guest", "a", start=300))  # the store takes new records as before
    assert _left(store, "guest") == [200, 300]


def test_a_sweep_keeps_each_namespace_by_its_own_days(any_store: Store) -> None:
    store = any_store
    days = {"short": 1, "long": 10, "forever": 0}
    _put(store, "short", [NOW - 3 * DAY_MS, NOW - 2 * DAY_MS, NOW - DAY_MS + 1])
    _put(store, "long", [NOW - 11 * DAY_MS, NOW - 9 * DAY_MS])
    _put(store, "forever", [NOW - 1000 * DAY_MS])
    progress: list[tuple[str, int]] = []
    service = RetentionService(store, lambda ns: days[ns], batch=1, pause_s=0, clock=lambda: NOW)

    report = service.sweep(progress=lambda ns, n: progress.append((ns, n)))

    assert report.deleted == {"short": 2, "long": 1} and report.total == 3 and report.complete
    # batch=1: one request per record plus the one that finds no more, for each namespace with days
    assert report.batches == 3 + 2
    assert progress == [("long", 1), ("short", 1), ("short", 2)]
    assert _left(store, "short") == [NOW - DAY_MS + 1]
    assert _left(store, "long") == [NOW - 9 * DAY_MS]
    assert _left(store, "forever") == [NOW - 1000 * DAY_MS]
    assert service.sweep().total == 0  # nothing more is due


def test_a_namespace_whose_days_cannot_be_read_keeps_its_records(any_store: Store) -> None:
    store = any_store
    _put(store, "readable", [1])
    _put(store, "unreadable", [1])

    def days(namespace: str) -> int:
        if namespace == "unreadable":
            raise StoreError("the subjects database is away")
        return 1

    report = RetentionService(store, days, pause_s=0, clock=lambda: NOW).sweep()
    assert report.deleted == {"readable": 1} and report.skipped == ["unreadable"]
    assert _left(store, "unreadable") == [1]


def test_a_stopped_sweep_ends_after_its_batch(any_store: Store) -> None:
    store = any_store
    _put(store, "guest", [1, 2, 3, 4])
    stop = threading.Event()
    service = RetentionService(store, lambda ns: 1, batch=2, pause_s=0, clock=lambda: NOW)

    report = service.sweep(stop, progress=lambda ns, n: stop.set())

    assert report.deleted == {"guest": 2} and not report.complete
    assert len(_left(store, "guest")) == 2
