"""Nesting is bounded too: a chain of one-component sequences, each legal when it was stored, is refused past the
sequence length in depth instead of being walked to the bottom (and past Python's recursion limit: a 500)."""

from __future__ import annotations

import pytest

from app.core.errors import Invalid, NotFound
from app.core.sequences import TOO_DEEP, count_atomic_actions

pytestmark = pytest.mark.unit


def chain(depth: int) -> tuple[dict[str, tuple[str, ...] | None], list[str]]:
    """``ns/s0`` → ``ns/s1`` → … → ``ns/s{depth-1}`` → the atomic ``ns/a``; and every lookup made."""
    graph: dict[str, tuple[str, ...] | None] = {f"ns/s{i}": (f"ns/s{i + 1}",) for i in range(depth - 1)}
    graph[f"ns/s{depth - 1}"] = ("ns/a",)
    graph["ns/a"] = None
    return graph, []


def test_a_chain_as_deep_as_the_limit_counts_one_action() -> None:
    graph, _ = chain(9)
    assert count_atomic_actions("ns/new", ["ns/s0"], graph.__getitem__, limit=10) == 1


def test_a_chain_deeper_than_the_limit_is_refused_after_at_most_limit_lookups() -> None:
    graph, seen = chain(5_000)

    def lookup(doc_id: str) -> tuple[str, ...] | None:
        seen.append(doc_id)
        if doc_id not in graph:
            raise NotFound()
        return graph[doc_id]

    with pytest.raises(Invalid, match=TOO_DEEP):
        count_atomic_actions("ns/new", ["ns/s0"], lookup, limit=50)
    assert len(seen) <= 51
