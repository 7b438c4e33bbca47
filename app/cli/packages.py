"""``squall package ...``: packages and bindings, like ``wsk package``, over HTTP only."""

from __future__ import annotations

from typing import Any

import click

from app.cli.client import DEFAULT_NAMESPACE
from app.cli.verbkit import (
    F,
    Pairs,
    annotation_option,
    connect,
    connection_options,
    echo_got,
    echo_listing,
    echo_ok,
    full_name,
    key_values,
    list_options,
    namespace_argument,
    param_option,
    visibility,
)

_shared_option = click.option("--shared", type=click.Choice(["yes", "no"]), default=None,
                              help="Publish the package (yes) so other namespaces can use and bind it, or not (no).")


def _body(params: Pairs, annotations: Pairs, shared: str | None) -> dict[str, Any]:
    """Only what was given: on update the server keeps the rest."""
    body: dict[str, Any] = {}
    if params:
        body["parameters"] = key_values(params)
    if annotations:
        body["annotations"] = key_values(annotations)
    if shared is not None:
        body["publish"] = shared == "yes"
    return body


def _binding_of(source: str) -> dict[str, str]:
    """``/ns/pkg`` or ``pkg`` (the caller's namespace, ``_``) as the ``binding`` field."""
    parts = source.strip("/").split("/") if source.startswith("/") else [DEFAULT_NAMESPACE, *source.split("/")]
    if len(parts) != 2 or not all(parts):
        raise click.UsageError(f"'{source}' is not a package: give PACKAGE or /NAMESPACE/PACKAGE")
    return {"namespace": parts[0], "name": parts[1]}


def _write_options(fn: F) -> F:
    for option in reversed([click.argument("name"), param_option, annotation_option, _shared_option,
                            connection_options]):
        fn = option(fn)
    return fn


@click.group()
def package() -> None:
    """Create, bind, get, list and delete packages (like ``wsk package``)."""


@package.command("create")
@_write_options
def package_create(name: str, params: Pairs, annotations: Pairs, shared: str | None, apihost: str | None,
                   auth: str | None) -> None:
    """Create package NAME; its -p parameters reach every action in it."""
    with connect(apihost, auth) as client:
        client.put_entity("packages", name, _body(params, annotations, shared))
    echo_ok(f"created package {name}")


@package.command("update")
@_write_options
def package_update(name: str, params: Pairs, annotations: Pairs, shared: str | None, apihost: str | None,
                   auth: str | None) -> None:
    """Create or change package NAME (overwrite=true); given parameters replace the old ones."""
    with connect(apihost, auth) as client:
        client.put_entity("packages", name, _body(params, annotations, shared), overwrite=True)
    echo_ok(f"updated package {name}")


@package.command("bind")
@click.argument("source", metavar="PACKAGE")
@click.argument("name")
@param_option
@annotation_option
@connection_options
def package_bind(source: str, name: str, params: Pairs, annotations: Pairs, apihost: str | None,
                 auth: str | None) -> None:
    """Create binding NAME of PACKAGE (/NAMESPACE/PACKAGE for another namespace's public one), with its own -p."""
    body = {"binding": _binding_of(source), **_body(params, annotations, None)}
    with connect(apihost, auth) as client:
        client.put_entity("packages", name, body)
    echo_ok(f"created binding {name}")


@package.command("get")
@click.argument("name")
@click.option("--summary", "-s", is_flag=True, help="Only the package's actions and feeds, one a line.")
@connection_options
def package_get(name: str, summary: bool, apihost: str | None, auth: str | None) -> None:
    """Print package NAME (or /NAMESPACE/NAME) as JSON, with its actions and feeds."""
    with connect(apihost, auth) as client:
        entity = client.get_entity("packages", name)
    if not summary:
        echo_got("package", name, entity)
        return
    own = full_name(entity)
    bound = entity.get("binding") or {}
    click.echo(f"package {own}" + (f" (binds /{bound['namespace']}/{bound['name']})" if bound else ""))
    for kind, entries in (("action", entity.get("actions") or []), ("feed", entity.get("feeds") or [])):
        for entry in entries:
            click.echo(f"   {kind} {own}/{entry.get('name', '')}")


@package.command("list")
@click.argument("namespace", metavar="[/NAMESPACE]", required=False)
@list_options
@connection_options
def package_list(namespace: str | None, limit: int, skip: int, apihost: str | None, auth: str | None) -> None:
    """List the packages of the namespace, or the public packages of another /NAMESPACE."""
    with connect(apihost, auth) as client:
        packages = client.list_entities("packages", namespace_argument(namespace), limit, skip)
    rows = []
    for p in packages:
        bound = p.get("binding")
        rows.append([full_name(p), visibility(p), f"/{bound['namespace']}/{bound['name']}" if bound else ""])
    echo_listing("packages", ["NAME", "VISIBILITY", "BINDS"], rows)


@package.command("delete")
@click.argument("name")
@connection_options
def package_delete(name: str, apihost: str | None, auth: str | None) -> None:
    """Delete package NAME (it must hold no actions) or binding NAME."""
    with connect(apihost, auth) as client:
        client.delete_entity("packages", name)
    echo_ok(f"deleted package {name}")
