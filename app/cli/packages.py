"""``squall package ...``: packages and bindings, like ``wsk package``, over HTTP only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from app.cli.client import DEFAULT_NAMESPACE
from app.cli.output import echo_entity, json_option, name_sort_option, name_sorted, refuse_with_json
from app.cli.param_files import annotation_file_option, given_fields, param_file_option
from app.cli.summaries import package_summary
from app.cli.verbkit import (
    F,
    Pairs,
    annotation_option,
    connect,
    connection_options,
    echo_json,
    echo_listing,
    echo_ok,
    full_name,
    list_options,
    namespace_argument,
    param_option,
    visibility,
)

_shared_option = click.option("--shared", type=click.Choice(["yes", "no"]), default=None,
                              help="Publish the package (yes) so other namespaces can use and bind it, or not (no).")


def _body(params: Pairs, annotations: Pairs, shared: str | None, param_files: Sequence[Path] = (),
          annotation_files: Sequence[Path] = ()) -> dict[str, Any]:
    """Only what was given: on update the server keeps the rest."""
    body = given_fields(param_files, params, annotation_files, annotations)
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
    for option in reversed([click.argument("name"), param_option, param_file_option, annotation_option,
                            annotation_file_option, _shared_option, connection_options]):
        fn = option(fn)
    return fn


@click.group()
def package() -> None:
    """Create, bind, get, list and delete packages (like ``wsk package``)."""


@package.command("create")
@_write_options
def package_create(name: str, params: Pairs, param_files: tuple[Path, ...], annotations: Pairs,
                   annotation_files: tuple[Path, ...], shared: str | None, apihost: str | None,
                   auth: str | None) -> None:
    """Create package NAME; its -p parameters reach every action in it."""
    with connect(apihost, auth) as client:
        client.put_entity("packages", name, _body(params, annotations, shared, param_files, annotation_files))
    echo_ok(f"created package {name}")


@package.command("update")
@_write_options
def package_update(name: str, params: Pairs, param_files: tuple[Path, ...], annotations: Pairs,
                   annotation_files: tuple[Path, ...], shared: str | None, apihost: str | None,
                   auth: str | None) -> None:
    """Create or change package NAME (overwrite=true); given parameters replace the old ones."""
    with connect(apihost, auth) as client:
        client.put_entity("packages", name, _body(params, annotations, shared, param_files, annotation_files),
                          overwrite=True)
    echo_ok(f"updated package {name}")


@package.command("bind")
@click.argument("source", metavar="PACKAGE")
@click.argument("name")
@param_option
@param_file_option
@annotation_option
@annotation_file_option
@connection_options
def package_bind(source: str, name: str, params: Pairs, param_files: tuple[Path, ...], annotations: Pairs,
                 annotation_files: tuple[Path, ...], apihost: str | None, auth: str | None) -> None:
    """Create binding NAME of PACKAGE (/NAMESPACE/PACKAGE for another namespace's public one), with its own -p."""
    body = {"binding": _binding_of(source), **_body(params, annotations, None, param_files, annotation_files)}
    with connect(apihost, auth) as client:
        client.put_entity("packages", name, body)
    echo_ok(f"created binding {name}")


@package.command("get")
@click.argument("name")
@click.argument("field", required=False)
@click.option("--summary", "-s", is_flag=True,
              help="Only its name, description and parameters, and those of its actions and feeds.")
@json_option
@connection_options
def package_get(name: str, field: str | None, summary: bool, as_json: bool, apihost: str | None,
                auth: str | None) -> None:
    """Print package NAME (or /NAMESPACE/NAME) as JSON, with its actions and feeds (or only its FIELD)."""
    refuse_with_json(as_json, summary=summary)
    with connect(apihost, auth) as client:
        entity = client.get_entity("packages", name)
    if summary:
        for line in package_summary(entity):
            click.echo(line)
    else:
        echo_entity("package", name, entity, field, as_json)


@package.command("list")
@click.argument("namespace", metavar="[/NAMESPACE]", required=False)
@list_options
@name_sort_option
@json_option
@connection_options
def package_list(namespace: str | None, limit: int, skip: int, name_sort: bool, as_json: bool,
                 apihost: str | None, auth: str | None) -> None:
    """List the packages of the namespace, or the public packages of another /NAMESPACE."""
    with connect(apihost, auth) as client:
        packages = client.list_entities("packages", namespace_argument(namespace), limit, skip)
    if as_json:
        echo_json(packages)
        return
    rows = []
    for p in name_sorted("packages", packages) if name_sort else packages:
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
