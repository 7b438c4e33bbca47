"""Extension points chosen by name: an alias table maps a short name to ``module:attribute``, imported
only when asked for (cf. kombu's transport aliases), so an unused implementation's dependencies never load."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from typing import Any

from app.core.errors import Invalid


def resolve(aliases: Mapping[str, str], name: str, what: str) -> Any:
    """The attribute named by alias ``name`` (or a literal ``module:attribute``).

    Raises ``Invalid`` naming ``what`` for an unknown alias (suggesting the closest) or a failed import.
    """
    target = aliases.get(name)
    if target is None:
        if ":" not in name:
            close = difflib.get_close_matches(name, list(aliases), n=1)
            hint = f"Did you mean {close[0]!r}?" if close else f"Known {what}s: {', '.join(sorted(aliases))}."
            raise Invalid(f"No such {what}: {name!r}. {hint}")
        target = name
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise Invalid(f"The {what} {name!r} cannot be loaded: {e}") from e
    try:
        return getattr(module, attribute)
    except AttributeError as e:
        raise Invalid(f"The {what} {name!r} cannot be loaded: {module_name} has no {attribute!r}") from e
