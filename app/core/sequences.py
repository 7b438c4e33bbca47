"""What makes a sequence legal when it is created or updated (OpenWhisk ``Actions.checkSequenceActionLimits``).

A sequence names its components by fully qualified name. Before it is stored, every component must
exist, the sequence must not reach itself through any nesting, and, once every nested sequence is
inlined, it may hold at most ``limit`` atomic actions. All of it is pure: the entity store is reached
through a ``lookup`` function, so the rules are tested without a database.

The checks that need no lookup (``check_length``) come first: a request naming 20,000 components is refused
before a single one is read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.core.errors import Invalid, NotFound
from app.core.names import EntityPath

DEFAULT_MAX_LENGTH = 50
"""OpenWhisk's ``limits.actions.sequence.maxLength``."""

TOO_LONG = "Too many actions in the sequence."
NO_COMPONENT = "No component specified for the sequence."
CYCLIC = "Sequence may not refer to itself."
COMPONENT_NOT_FOUND = "Sequence component does not exist."
TOO_DEEP = "Sequences are nested too deeply."

Lookup = Callable[[str], "tuple[str, ...] | None"]
"""``lookup(doc_id)``: the component doc ids when that action is a sequence, None when it is atomic.
Raises ``NotFound`` when there is no such action."""


MALFORMED_NAME = ("The request content was malformed:\nThe fully qualified name of the entity must contain at "
                  "least the namespace and the name of the entity.")


def component_path(name: str, namespace: str) -> EntityPath:
    """A component name as clients send it (``/_/a``, ``/ns/pkg/a``, or the same without the leading slash),
    with ``_`` resolved to ``namespace``. Like OpenWhisk, a name is always fully qualified: ``x/a`` is action
    ``a`` of namespace ``x``. Raises ``Invalid`` for a name without a namespace or with illegal characters.
    """
    text = name.strip()
    if text.lstrip("/").count("/") == 0:
        raise Invalid(MALFORMED_NAME)
    return EntityPath.parse_fqn(text if text.startswith("/") else "/" + text, namespace)


def check_length(components: Sequence[object], limit: int = DEFAULT_MAX_LENGTH) -> None:
    """What can be said of the components as given, before any of them is looked up: at least one, at most
    ``limit`` (each counts at least once inlined). Raises ``Invalid`` with OpenWhisk's messages."""
    if not components:
        raise Invalid(NO_COMPONENT)
    if len(components) > limit:
        raise Invalid(TOO_LONG)


def count_atomic_actions(origin: str, components: Sequence[str], lookup: Lookup,
                         limit: int = DEFAULT_MAX_LENGTH) -> int:
    """The number of atomic actions in the sequence ``origin`` (a doc id) once nested sequences are inlined.

    ``components`` are doc ids (``ns[/pkg]/name``). Raises ``Invalid`` with OpenWhisk's message when there
    are no components, too many, a component that does not exist, or a path back to ``origin``; and when
    sequences are nested more than ``limit`` deep (OpenWhisk has no such bound: a chain of one-component
    sequences, each legal, would otherwise be walked without end and overflow the stack).
    """
    check_length(components, limit)
    return _count(origin, components, lookup, limit, (origin,), 0)


def _count(origin: str, components: Sequence[str], lookup: Lookup, limit: int, ancestors: tuple[str, ...],
           counted: int) -> int:
    if len(ancestors) > limit:
        raise Invalid(TOO_DEEP)
    for doc_id in components:
        if doc_id in ancestors:
            # Reaching the sequence being stored is OpenWhisk's cycle; reaching another ancestor means a
            # cycle stored before these checks existed: refuse it too rather than recurse forever.
            raise Invalid(CYCLIC)
        try:
            nested = lookup(doc_id)
        except NotFound:
            raise Invalid(COMPONENT_NOT_FOUND) from None
        counted = counted + 1 if nested is None else _count(origin, nested, lookup, limit,
                                                             (*ancestors, doc_id), counted)
        if counted > limit:  # stop early: the answer is known, and a wide nesting stays cheap
            raise Invalid(TOO_LONG)
    return counted
