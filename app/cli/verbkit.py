"""What every wsk-style client verb shares: connection options, ``-p KEY VALUE``, qualified names, and the
``ok: ...`` / JSON / table output."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from app.cli.client import DEFAULT_NAMESPACE, ApiClient, ClientError
from app.cli.common import settings

F = TypeVar("F", bound=Callable[..., Any])
Pairs = Sequence[tuple[str, str]]


def connection_options(fn: F) -> F:
    """``--apihost`` and ``--auth`` on every client command; they override SQUALL_CLIENT_* and the config."""
    fn = click.option("--auth", "-u", default=None, metavar="UUID:KEY",
                      help="Credentials (default: SQUALL_CLIENT_AUTH).")(fn)
    fn = click.option("--apihost", default=None, metavar="URL",
                      help="Controller URL (default: SQUALL_CLIENT_APIHOST, else http://127.0.0.1:3233).")(fn)
    return fn


@contextmanager
def connect(apihost: str | None, auth: str | None) -> Iterator[ApiClient]:
    """An ``ApiClient`` from the options and settings; a failed call ends the command with the server's message."""
    s = settings(client={"apihost": apihost, "auth": auth}).client
    try:
        with ApiClient(s.apihost, s.auth) as api:
            yield api
    except ClientError as e:
        raise click.ClickException(e.message) from e


param_option = click.option("--param", "-p", "params", type=(str, str), multiple=True, metavar="KEY VALUE",
                            help="A parameter; VALUE is JSON when it parses, else a string. Repeatable.")
annotation_option = click.option("--annotation", "-a", "annotations", type=(str, str), multiple=True,
                                 metavar="KEY VALUE", help="An annotation, parsed like -p. Repeatable.")


def list_options(fn: F) -> F:
    fn = click.option("--skip", "-s", type=int, default=0, show_default=True, help="How many to skip.")(fn)
    fn = click.option("--limit", "-l", type=int, default=30, show_default=True, help="How many to list.")(fn)
    return fn


def parse_value(raw: str) -> Any:
    """Like ``wsk -p``: JSON when it parses as JSON, else the string itself."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def param_values(pairs: Pairs) -> dict[str, Any]:
    return {key: parse_value(value) for key, value in pairs}


def key_values(pairs: Pairs) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v in param_values(pairs).items()]


def qualify(name: str) -> str:
    """wsk's qualified name: ``a`` and ``pkg/a`` gain the default namespace (``/_/a``); ``/ns/...`` stays."""
    return name if name.startswith("/") else f"/{DEFAULT_NAMESPACE}/{name}"


def namespace_argument(value: str | None) -> str:
    """``[NAMESPACE]`` of the list verbs: ``/ns`` or ``ns``; nothing means the caller's own."""
    if not value:
        return DEFAULT_NAMESPACE
    ns = value.strip("/")
    if not ns or "/" in ns:
        raise click.UsageError(f"'{value}' is not a namespace (give /NAMESPACE)")
    return ns


def annotations_of(entity: Any) -> dict[Any, Any]:
    if not isinstance(entity, dict):
        return {}
    return {a.get("key"): a.get("value") for a in entity.get("annotations") or [] if isinstance(a, dict)}


def full_name(entity: dict[str, Any]) -> str:
    """``/namespace/name``; an action in a package has ``namespace`` ``ns/pkg``, so it shows as ``/ns/pkg/name``."""
    return f"/{entity.get('namespace', DEFAULT_NAMESPACE)}/{entity.get('name', '')}"


def visibility(entity: dict[str, Any]) -> str:
    return "shared" if entity.get("publish") else "private"


def echo_ok(message: str) -> None:
    click.echo(f"ok: {message}")


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False))


def echo_got(kind: str, name: str, entity: Any) -> None:
    """``ok: got <kind> <name>`` then the entity as JSON, as ``wsk <kind> get`` prints it."""
    echo_ok(f"got {kind} {name}")
    echo_json(entity)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [list(headers)] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def echo_listing(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A title line (``actions``, ``packages``, ...) then, if there is anything, a table."""
    click.echo(title)
    if rows:
        click.echo(table(headers, rows))
