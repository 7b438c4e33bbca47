"""A request the request alone refuses costs no store work: every check that needs no read (a sequence's length
and names, sizes, limits' ranges, kinds, names, a binding's form, ``skip``) comes before the first one.

The store here is a recording fake of OUR ``EntityStore`` port that holds nothing: every call it gets is
counted, so "refused before any read" is a count of zero, not a timing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.core.errors import Invalid, NotFound, PayloadTooLarge, PlatformError
from app.core.identities import Identity
from app.core.limits import LimitPolicy
from app.core.manifest import RuntimeManifest
from app.core.names import EntityPath
from app.core.requests import ActionPut, PackagePut, RulePut, TriggerPut
from app.core.sequences import TOO_LONG
from app.core.services.actions import MAX_SKIP, ActionService, SizeLimits
from app.core.services.packages import PackageService
from app.core.services.rules import RuleService
from app.core.services.triggers import TriggerService

pytestmark = pytest.mark.unit

MANIFEST = RuntimeManifest.from_dict({"runtimes": {"python": [{"kind": "python:3", "image": {"name": "py"}}]}})
GUEST = Identity("guest", "guest", "u", "h")
BIG = [{"key": "k", "value": "x" * 2_000}]  # over the 1 KB the services below allow
SIZES = SizeLimits(exec_bytes=1_000, parameters_bytes=1_000)


class CountingEntities:
    """An empty ``EntityStore`` that records every call."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def get_entity(self, doc_id: str) -> dict[str, Any]:
        self.calls.append(f"get {doc_id}")
        raise NotFound()

    def put_entity(self, doc: dict[str, Any]) -> str:
        self.calls.append(f"put {doc['_id']}")
        return "1-x"

    def delete_entity(self, doc_id: str, rev: str) -> None:
        self.calls.append(f"delete {doc_id}")

    def list_entities(self, namespace: str, entity_type: str, skip: int, limit: int) -> list[dict[str, Any]]:
        self.calls.append(f"list {namespace} {entity_type}")
        return []

    def count_entities(self, namespace: str, entity_type: str) -> int:
        self.calls.append(f"count {namespace} {entity_type}")
        return 0


@pytest.fixture
def store() -> CountingEntities:
    return CountingEntities()


def actions(store: CountingEntities) -> ActionService:
    return ActionService(store, MANIFEST, LimitPolicy(), SIZES, sequence_max_length=50)  # type: ignore[arg-type]


def refused(store: CountingEntities, call: Callable[[], object], error: type[PlatformError]) -> PlatformError:
    with pytest.raises(error) as caught:
        call()
    assert store.calls == [], "the store was reached before the request was refused"
    return caught.value


def put_action(store: CountingEntities, body: dict[str, Any]) -> Callable[[], object]:
    return lambda: actions(store).put(GUEST, EntityPath("guest", "s"), ActionPut.model_validate(body), True)


def test_a_sequence_of_20000_components_is_refused_without_a_store_read(store: CountingEntities) -> None:
    body = {"exec": {"kind": "sequence", "components": [f"/guest/a{i}" for i in range(20_000)]}}
    assert refused(store, put_action(store, body), Invalid).message == TOO_LONG


@pytest.mark.parametrize(("body", "error"), [
    ({"exec": {"kind": "sequence", "components": []}}, Invalid),
    ({"exec": {"kind": "sequence", "components": ["no-namespace"]}}, Invalid),
    ({"exec": {"kind": "sequence", "components": ["/guest/a"]}, "parameters": BIG}, PayloadTooLarge),
    ({"exec": {"kind": "python:3", "code": "x"}, "parameters": BIG}, PayloadTooLarge),
    ({"exec": {"kind": "python:3", "code": "x"}, "annotations": BIG}, PayloadTooLarge),
    ({"exec": {"kind": "python:3", "code": "x" * 2_000}}, PayloadTooLarge),
    ({"exec": {"kind": "cobol:1", "code": "x"}}, Invalid),
    ({"exec": {"kind": "blackbox"}}, Invalid),
    ({"exec": {"kind": "python:3", "code": "x"}, "limits": {"memory": 10**6}}, Invalid),
    ({"exec": {"kind": "python:3", "code": "x"}, "limits": {"timeout": "soon"}}, Invalid),
    ({"limits": {"logs": -1}}, Invalid),
    ({"parameters": BIG}, PayloadTooLarge),
])
def test_an_action_put_refused_by_its_body_reads_nothing(store: CountingEntities, body: dict[str, Any],
                                                          error: type[PlatformError]) -> None:
    refused(store, put_action(store, body), error)


@pytest.mark.parametrize(("body", "error"), [
    ({"parameters": BIG}, PayloadTooLarge),
    ({"annotations": BIG}, PayloadTooLarge),
    ({"binding": {"namespace": "guest", "name": "bad/name"}}, Invalid),
])
def test_a_package_put_refused_by_its_body_reads_nothing(store: CountingEntities, body: dict[str, Any],
                                                          error: type[PlatformError]) -> None:
    service = PackageService(store, parameters_bytes=1_000)  # type: ignore[arg-type]
    refused(store, lambda: service.put(GUEST, "guest", "p", PackagePut.model_validate(body), True), error)


@pytest.mark.parametrize("body", [{"parameters": BIG}, {"annotations": BIG}])
def test_a_trigger_put_refused_by_its_size_reads_nothing(store: CountingEntities, body: dict[str, Any]) -> None:
    service = TriggerService(store, None, None, None, parameters_bytes=1_000)  # type: ignore[arg-type]
    refused(store, lambda: service.put(GUEST, "guest", "t", TriggerPut.model_validate(body), True),
            PayloadTooLarge)


@pytest.mark.parametrize(("body", "error"), [
    ({"trigger": "/guest/bad//name", "action": "/guest/a"}, Invalid),
    ({"trigger": "/guest/t", "action": "/"}, Invalid),
    ({"trigger": "/guest/t", "action": "/guest/a", "annotations": BIG}, PayloadTooLarge),
])
def test_a_rule_put_refused_by_its_body_reads_nothing(store: CountingEntities, body: dict[str, Any],
                                                       error: type[PlatformError]) -> None:
    service = RuleService(store, parameters_bytes=1_000)  # type: ignore[arg-type]
    refused(store, lambda: service.put(GUEST, "guest", "r", RulePut.model_validate(body), True), error)


def test_a_skip_past_the_bound_lists_nothing(store: CountingEntities) -> None:
    services: list[Callable[[int], object]] = [
        lambda skip: actions(store).list(GUEST, "guest", skip, 30),
        lambda skip: actions(store).list_in_package(GUEST, "guest", "p", skip, 30),
        lambda skip: PackageService(store).list(GUEST, "guest", skip, 30),  # type: ignore[arg-type]
        lambda skip: RuleService(store).list(GUEST, "guest", skip, 30),  # type: ignore[arg-type]
        lambda skip: TriggerService(store, None, None, None).list(GUEST, "guest", skip, 30),  # type: ignore[arg-type]
    ]
    for listing in services:
        refused(store, lambda listing=listing: listing(MAX_SKIP + 1), Invalid)
        refused(store, lambda listing=listing: listing(2**64), Invalid)
    assert actions(store).list(GUEST, "guest", MAX_SKIP, 30) == []
