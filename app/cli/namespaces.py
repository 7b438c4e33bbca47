"""``squall namespace ...``: the caller's namespace and what is in it, like ``wsk namespace``, over HTTP only."""

from __future__ import annotations

import click

from app.cli.verbkit import connect, connection_options, echo_listing, full_name, namespace_argument, visibility

COLLECTIONS = ("packages", "actions", "triggers", "rules")


@click.group()
def namespace() -> None:
    """List namespaces and the entities in one (like ``wsk namespace``)."""


@namespace.command("list")
@connection_options
def namespace_list(apihost: str | None, auth: str | None) -> None:
    """List the namespaces the credentials own."""
    with connect(apihost, auth) as client:
        names = client.list_namespaces()
    echo_listing("namespaces", ["NAME"], [[n] for n in names])


@namespace.command("get")
@click.argument("name", metavar="[/NAMESPACE]", required=False)
@connection_options
def namespace_get(name: str | None, apihost: str | None, auth: str | None) -> None:
    """List the packages, actions, triggers and rules of the namespace (up to the server's page size each)."""
    ns = namespace_argument(name)
    with connect(apihost, auth) as client:
        found = {collection: client.list_entities(collection, ns, limit=0) for collection in COLLECTIONS}
    click.echo(f"Entities in namespace: {'default' if ns == '_' else ns}")
    for collection, entities in found.items():
        echo_listing(collection, ["NAME", "VISIBILITY"], [[full_name(e), visibility(e)] for e in entities])
