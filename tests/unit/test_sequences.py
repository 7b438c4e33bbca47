"""Sequence rules at create/update time: components exist, no cycles, at most N atomic actions inlined."""

from __future__ import annotations

import pytest

from app.core.errors import Invalid, NotFound
from app.core.sequences import (
    COMPONENT_NOT_FOUND,
    CYCLIC,
    NO_COMPONENT,
    TOO_LONG,
    component_path,
    count_atomic_actions,
)

pytestmark = pytest.mark.unit


def lookup_in(graph: dict[str, tuple[str, ...] | None]):  # type: ignore[no-untyped-def]
    def lookup(doc_id: str) -> tuple[str, ...] | None:
        if doc_id not in graph:
            raise NotFound()
        return graph[doc_id]
    return lookup


ATOMS: dict[str, tuple[str, ...] | None] = {"ns/a": None, "ns/b": None, "ns/pkg/c": None}


def test_atomic_components_count_one_each() -> None:
    assert count_atomic_actions("ns/s", ["ns/a", "ns/b", "ns/a"], lookup_in(ATOMS)) == 3


def test_nested_sequences_are_inlined() -> None:
    graph = {**ATOMS, "ns/inner": ("ns/a", "ns/pkg/c"), "ns/middle": ("ns/inner", "ns/b", "ns/inner")}
    assert count_atomic_actions("ns/s", ["ns/middle", "ns/a"], lookup_in(graph)) == 6


def test_empty_sequence() -> None:
    with pytest.raises(Invalid, match=NO_COMPONENT):
        count_atomic_actions("ns/s", [], lookup_in(ATOMS))


def test_missing_component() -> None:
    with pytest.raises(Invalid, match=COMPONENT_NOT_FOUND):
        count_atomic_actions("ns/s", ["ns/a", "ns/nope"], lookup_in(ATOMS))


def test_missing_component_deep_inside() -> None:
    graph = {**ATOMS, "ns/inner": ("ns/a", "ns/gone")}
    with pytest.raises(Invalid, match=COMPONENT_NOT_FOUND):
        count_atomic_actions("ns/s", ["ns/inner"], lookup_in(graph))


def test_a_sequence_naming_itself_is_cyclic() -> None:
    with pytest.raises(Invalid, match=CYCLIC):
        count_atomic_actions("ns/s", ["ns/a", "ns/s"], lookup_in({**ATOMS, "ns/s": None}))


def test_a_cycle_through_nested_sequences() -> None:
    # Updating s to contain x, where x already contains y which contains s.
    graph = {**ATOMS, "ns/x": ("ns/a", "ns/y"), "ns/y": ("ns/s",), "ns/s": ("ns/b",)}
    with pytest.raises(Invalid, match=CYCLIC):
        count_atomic_actions("ns/s", ["ns/x"], lookup_in(graph))


def test_an_old_cycle_not_through_origin_is_refused_rather_than_followed() -> None:
    graph = {**ATOMS, "ns/x": ("ns/y",), "ns/y": ("ns/x",)}
    with pytest.raises(Invalid, match=CYCLIC):
        count_atomic_actions("ns/s", ["ns/x"], lookup_in(graph))


def test_the_same_sequence_twice_side_by_side_is_not_a_cycle() -> None:
    graph = {**ATOMS, "ns/x": ("ns/a",)}
    assert count_atomic_actions("ns/s", ["ns/x", "ns/x"], lookup_in(graph)) == 2


def test_limit_on_direct_components() -> None:
    assert count_atomic_actions("ns/s", ["ns/a"] * 50, lookup_in(ATOMS)) == 50
    with pytest.raises(Invalid, match=TOO_LONG):
        count_atomic_actions("ns/s", ["ns/a"] * 51, lookup_in(ATOMS))


def test_limit_after_inlining() -> None:
    graph = {**ATOMS, "ns/ten": ("ns/a",) * 10}
    assert count_atomic_actions("ns/s", ["ns/ten"] * 5, lookup_in(graph)) == 50
    with pytest.raises(Invalid, match=TOO_LONG):
        count_atomic_actions("ns/s", ["ns/ten"] * 5 + ["ns/b"], lookup_in(graph))


def test_limit_is_configurable() -> None:
    with pytest.raises(Invalid, match=TOO_LONG):
        count_atomic_actions("ns/s", ["ns/a"] * 3, lookup_in(ATOMS), limit=2)


def test_wide_nesting_stops_early() -> None:
    # 50 x 50 x 50 leaves: the check must stop once it passes the limit, not walk 125000 leaves.
    calls = []
    graph = {**ATOMS, "ns/l1": ("ns/a",) * 50, "ns/l2": ("ns/l1",) * 50}
    inner = lookup_in(graph)

    def counting(doc_id: str) -> tuple[str, ...] | None:
        calls.append(doc_id)
        return inner(doc_id)

    with pytest.raises(Invalid, match=TOO_LONG):
        count_atomic_actions("ns/s", ["ns/l2"] * 50, counting)
    assert len(calls) < 200


@pytest.mark.parametrize(("name", "doc_id"), [
    ("/_/a", "me/a"), ("/ns/a", "ns/a"), ("/ns/pkg/a", "ns/pkg/a"), ("ns/pkg/a", "ns/pkg/a"), ("ns/a", "ns/a"),
    ("_/a", "me/a"),
])
def test_component_names_are_fully_qualified(name: str, doc_id: str) -> None:
    assert component_path(name, "me").doc_id == doc_id


@pytest.mark.parametrize("name", ["a", "/a", "/ns/p/a/b", "/ns/a*b"])
def test_component_names_openwhisk_refuses(name: str) -> None:
    with pytest.raises(Invalid):
        component_path(name, "me")
