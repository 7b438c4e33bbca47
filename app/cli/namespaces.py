"""``squall namespace ...`` and ``squall list``: the caller's namespaces and what is in one, like ``wsk namespace``
and ``wsk list`` (which is ``wsk namespace get``), over HTTP only."""

from __future__ import annotations

from typing import Any

import click

from app.cli.client import ApiClient
from app.cli.output import json_option, name_sort_option, name_sorted
from app.cli.verbkit import (
    annotations_of,
    connect,
    connection_options,
    echo_json,
    echo_listing,
    full_name,
    namespace_argument,
    visibility,
)

COLLECTIONS = ("packages", "actions", "triggers", "rules")


@click.group()
def namespace() -> None:
    """List namespaces and the entities in one (like ``wsk namespace``)."""


@namespace.command("list")
@json_option
@connection_options
def namespace_list(as_json: bool, apihost: str | None, auth: str | None) -> None:
    """List the namespaces the credentials own."""
    with connect(apihost, auth) as client:
        names = client.list_namespaces()
    if as_json:
        echo_json(names)
        return
    echo_listing("namespaces", ["NAME"], [[n] for n in names])


def entities_of(client: ApiClient, ns: str) -> dict[str, list[Any]]:
    """The namespace's packages, actions, triggers and rules (each up to the server's page size); rules with the
    ``status`` their own GET tells, as wsk fetches it (the list leaves it out)."""
    found: dict[str, list[Any]] = {c: list(client.list_entities(c, ns, limit=0)) for c in COLLECTIONS}
    for rule in found["rules"]:
        if isinstance(rule, dict) and "status" not in rule:
            got = client.get_entity("rules", f"/{rule.get('namespace', ns)}/{rule.get('name', '')}")
            rule["status"] = got.get("status", "") if isinstance(got, dict) else ""
    return found


def rows_of(collection: str, entities: list[Any]) -> tuple[list[str], list[list[Any]]]:
    """The columns wsk shows per collection: actions their kind, rules their status."""
    if collection == "actions":
        return ["NAME", "VISIBILITY", "KIND"], [[full_name(e), visibility(e), annotations_of(e).get("exec", "")]
                                                for e in entities]
    if collection == "rules":
        return ["NAME", "VISIBILITY", "STATUS"], [[full_name(e), visibility(e), e.get("status", "")]
                                                  for e in entities]
    return ["NAME", "VISIBILITY"], [[full_name(e), visibility(e)] for e in entities]


def echo_entities(name: str | None, name_sort: bool, as_json: bool, apihost: str | None, auth: str | None) -> None:
    """What ``namespace get`` and ``list`` print: a title, then packages, actions, triggers and rules."""
    ns = namespace_argument(name)
    with connect(apihost, auth) as client:
        found = entities_of(client, ns)
    if as_json:
        echo_json(found)
        return
    click.echo(f"Entities in namespace: {'default' if ns == '_' else ns}")
    for collection, entities in found.items():
        headers, rows = rows_of(collection, name_sorted(collection, entities) if name_sort else entities)
        echo_listing(collection, headers, rows)


@namespace.command("get")
@click.argument("name", metavar="[/NAMESPACE]", required=False)
@name_sort_option
@json_option
@connection_options
def namespace_get(name: str | None, name_sort: bool, as_json: bool, apihost: str | None, auth: str | None) -> None:
    """List the packages, actions, triggers and rules of the namespace (up to the server's page size each)."""
    echo_entities(name, name_sort, as_json, apihost, auth)


@click.command("list")
@click.argument("name", metavar="[/NAMESPACE]", required=False)
@name_sort_option
@json_option
@connection_options
def list_entities(name: str | None, name_sort: bool, as_json: bool, apihost: str | None, auth: str | None) -> None:
    """List the entities of the namespace: packages, actions, triggers and rules (as ``namespace get``)."""
    echo_entities(name, name_sort, as_json, apihost, auth)
