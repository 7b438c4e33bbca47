"""How the read verbs print beyond verbkit's ``ok:`` lines and tables: ``--json`` for scripts, wsk's
``FIELD_FILTER`` argument of the get verbs, and wsk's ``-n/--name-sort`` order of the list verbs.

``--json`` prints the server's answer as JSON and nothing else: the entity of a get, the array of a list, the
result of ``activation result``, ``{"logs": [...]}`` of ``activation logs``. Flags that only change the human
rendering (``--summary``, ``--url``, ``--strip``) do not combine with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click

from app.cli.verbkit import echo_json, echo_ok

json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print the server's JSON only, without the ok: line or table (for scripts).")
name_sort_option = click.option("--name-sort", "-n", "name_sort", is_flag=True,
                                help="Sort by name (within the page that --limit/--skip returned), as wsk -n.")


def refuse_with_json(as_json: bool, **flags: bool) -> None:
    """A usage error when ``--json`` comes with a flag that only shapes the human output."""
    given = [name for name, on in flags.items() if on]
    if as_json and given:
        raise click.UsageError(f"--json prints the server's JSON as it is; it does not combine with --{given[0]}")


def field_of(entity: Any, field: str) -> Any:
    """The top-level ``field`` of ``entity``, matched without regard to case as wsk matches its struct fields."""
    if isinstance(entity, dict):
        for key, value in entity.items():
            if key.lower() == field.lower():
                return value
    raise click.UsageError(f"Invalid field filter '{field}'.")


def echo_entity(kind: str, name: str, entity: Any, field: str | None, as_json: bool) -> None:
    """``ok: got <kind> <name>[, displaying field F]`` and the entity (or its field) as JSON; only the JSON with
    ``--json``."""
    value = entity if field is None else field_of(entity, field)
    if not as_json:
        echo_ok(f"got {kind} {name}" + (f", displaying field {field}" if field is not None else ""))
    echo_json(value)


def _action_key(entity: dict[str, Any]) -> tuple[int, str]:
    """wsk's order of actions: those outside packages first, by name; then packaged ones by ``ns/pkg`` + name."""
    namespace, name = str(entity.get("namespace", "")), str(entity.get("name", ""))
    if "/" in namespace:
        return 1, (namespace + name).lower()
    return 0, name


def name_sorted(collection: str, entities: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``entities`` of ``collection`` (actions, packages, triggers, rules) in wsk's ``--name-sort`` order."""
    if collection == "actions":
        return sorted(entities, key=_action_key)
    return sorted(entities, key=lambda e: (str(e.get("namespace", "")) + str(e.get("name", ""))).lower())
