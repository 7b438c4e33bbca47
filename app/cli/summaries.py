"""wsk's ``get --summary`` text of actions, packages, triggers and rules.

Each entity is a line ``<kind> /ns/name[: description]`` and a line ``   (parameters: a, *b)``: the parameters the
``parameters`` annotation describes and the bound ones, sorted, the bound ones marked ``*`` (``**`` when the entity
is ``final``, i.e. they cannot be overridden). Without a ``description`` annotation, bound or described parameters
make one up ("Returns a result based on parameters a and b"), as wsk does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

NO_PARAMETERS = "none defined"


def _value(annotations: Sequence[Any], key: str) -> Any:
    return next((a.get("value") for a in annotations if isinstance(a, dict) and a.get("key") == key), None)


def parameter_names(entity: dict[str, Any]) -> list[str]:
    """The described and bound parameter names, sorted, the bound ones marked."""
    annotations = entity.get("annotations") or []
    bound = sorted({str(p.get("key")) for p in entity.get("parameters") or [] if isinstance(p, dict)})
    described = _value(annotations, "parameters")
    names = {str(d["name"]) for d in described if isinstance(d, dict) and isinstance(d.get("name"), str)} \
        if isinstance(described, list) else set()
    tag = "**" if _value(annotations, "final") is True else "*"
    return [f"{tag}{name}" if name in bound else name for name in sorted(names | set(bound))]


def _description(entity: dict[str, Any], params: str) -> str:
    text = _value(entity.get("annotations") or [], "description")
    if isinstance(text, str) and text:
        return text
    if params == NO_PARAMETERS:
        return ""
    names = params.replace("*", "").split(", ")
    if len(names) == 1:
        return f"Returns a result based on parameter {names[0]}"
    return f"Returns a result based on parameters {', '.join(names[:-1])} and {names[-1]}"


def entity_lines(kind: str, full_name: str, entity: dict[str, Any]) -> list[str]:
    """The two lines of one entity; ``kind`` comes already padded as wsk pads it."""
    params = ", ".join(parameter_names(entity)) or NO_PARAMETERS
    description = _description(entity, params)
    head = f"{kind} {full_name}" + (f": {description}" if description else "")
    return [head, f"   (parameters: {params})"]


def _full(namespace: Any, *names: Any) -> str:
    return "/" + "/".join(str(part) for part in (namespace, *names) if part)


def action_summary(action: dict[str, Any]) -> list[str]:
    return entity_lines("action", _full(action.get("namespace"), action.get("name")), action)


def trigger_summary(trigger: dict[str, Any]) -> list[str]:
    return entity_lines("trigger", _full(trigger.get("namespace"), trigger.get("name")), trigger)


def package_summary(package: dict[str, Any]) -> list[str]:
    """The package, then each of its actions and feeds (``GET`` lists them with their annotations)."""
    own = _full(package.get("namespace"), package.get("name"))
    lines = entity_lines("package", own, package)
    for kind, entries in ((" action", package.get("actions")), (" feed  ", package.get("feeds"))):
        for entry in entries or []:
            if isinstance(entry, dict):
                lines += entity_lines(kind, f"{own}/{entry.get('name', '')}", entry)
    return lines


def rule_summary(rule: dict[str, Any]) -> list[str]:
    return [f"rule {_full(rule.get('namespace'), rule.get('name'))}", f"   (status: {rule.get('status', '')})"]
