"""What every wsk-style client verb shares: connection options, ``-p KEY VALUE``, qualified names, and the
``ok: ...`` / JSON / table output."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from app.cli.client import DEFAULT_NAMESPACE, ApiClient, ClientError, tls_verify
from app.cli.clientconfig import ClientConfig, ConfigError, resolve
from app.cli.common import settings
from app.cli.exits import EXIT_GENERAL, EXIT_NETWORK, CommandFailed
from app.cli.verbose import Printer

F = TypeVar("F", bound=Callable[..., Any])
Pairs = Sequence[tuple[str, str]]

_FLAGS = "squall.client.flags"
"""``ctx.meta`` key of the global flags: ``meta`` is shared by a context and its children, so a flag given before
the verb (``squall -v action get x``) reaches the verb's ``connect``."""


@dataclass(frozen=True)
class GlobalFlags:
    """wsk's global flags, from wherever on the command line they were given."""

    apihost: str | None = None
    auth: str | None = None
    verbose: bool = False
    debug: bool = False
    insecure: bool = False


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value and param.name:  # an option left out never hides the same flag given elsewhere on the line
        ctx.meta.setdefault(_FLAGS, {})[param.name] = value
    return value


def global_flags() -> GlobalFlags:
    ctx = click.get_current_context(silent=True)
    return GlobalFlags(**(ctx.meta.get(_FLAGS, {}) if ctx is not None else {}))


def client_flags(fn: F) -> F:
    """``-v``, ``-d`` and ``-i``: they change how a command talks to the server, not what it does."""
    for option in (
        click.option("--insecure", "-i", is_flag=True, expose_value=False, callback=_remember,
                     help="Do not check the server's TLS certificate."),
        click.option("--debug", "-d", is_flag=True, expose_value=False, callback=_remember,
                     help="Like --verbose, with bodies in full."),
        click.option("--verbose", "-v", is_flag=True, expose_value=False, callback=_remember,
                     help="Print each HTTP request and response (the key masked)."),
    ):
        fn = option(fn)
    return fn


_AUTH_HELP = "Credentials (default: SQUALL_CLIENT_AUTH, else AUTH in ~/.wskprops)."
_APIHOST_HELP = "Controller URL (default: SQUALL_CLIENT_APIHOST, else APIHOST in ~/.wskprops, else " \
                "http://127.0.0.1:3233)."


def global_options(fn: F) -> F:
    """The global flags of the root ``squall`` group, for ``squall -v --apihost URL action get x``."""
    fn = client_flags(fn)
    fn = click.option("--auth", "-u", default=None, metavar="UUID:KEY", expose_value=False, callback=_remember,
                      help=_AUTH_HELP)(fn)
    return click.option("--apihost", default=None, metavar="URL", expose_value=False, callback=_remember,
                        help=_APIHOST_HELP)(fn)


def connection_options(fn: F) -> F:
    """``--apihost``, ``-u/--auth``, ``-v``, ``-d`` and ``-i`` on every client command, as wsk's global flags.

    ``--apihost`` and ``--auth`` reach the command as arguments, for ``connect``; the others reach ``connect``
    through the context.
    """
    fn = client_flags(fn)
    fn = click.option("--auth", "-u", default=None, metavar="UUID:KEY", help=_AUTH_HELP)(fn)
    return click.option("--apihost", default=None, metavar="URL", help=_APIHOST_HELP)(fn)


def client_config(apihost: str | None = None, auth: str | None = None) -> ClientConfig:
    """Flags over settings over the property file (app/cli/clientconfig.py); a flag here beats one before the verb."""
    flags = global_flags()
    try:
        return resolve(settings().client, apihost or flags.apihost, auth or flags.auth)
    except ConfigError as e:
        raise CommandFailed(str(e), EXIT_GENERAL) from e


def open_client(config: ClientConfig) -> ApiClient:
    """An ``ApiClient`` for ``config`` with the global flags applied (``--insecure``, ``--verbose``, ``--debug``)."""
    flags = global_flags()
    hooks = Printer(click.echo, config.auth, flags.debug).hooks() if flags.verbose or flags.debug else None
    return ApiClient(config.apihost, config.auth, namespace=config.namespace, apiversion=config.apiversion,
                     verify=tls_verify(flags.insecure, config.cert, config.key), event_hooks=hooks)


@contextmanager
def connect(apihost: str | None, auth: str | None) -> Iterator[ApiClient]:
    """An ``ApiClient`` from the options and settings; a failed call ends the command with the server's message,
    advice where there is some, and wsk's exit code (app/cli/exits.py)."""
    config = client_config(apihost, auth)
    try:
        with open_client(config) as api:
            yield api
    except ClientError as e:
        raise CommandFailed(explain(e, config), e.exit_code) from e


def explain(error: ClientError, config: ClientConfig) -> str:
    """The error's message, and for a rejected key or an unreachable host, which setting to check."""
    if error.status == 401:
        if not config.auth:
            advice = ("No key is configured: give -u UUID:KEY, or store it with `squall property set --auth "
                      "UUID:KEY`.")
        else:
            advice = (f"The key came from {config.source('auth')}: check it, or store another with "
                      "`squall property set --auth UUID:KEY`.")
    elif error.exit_code == EXIT_NETWORK:
        advice = (f"The API host came from {config.source('apihost')}: check it (`squall property get --apihost`), "
                  "or give --apihost URL.")
    else:
        return error.message
    message = error.message.rstrip()
    return f"{message}{'' if message.endswith('.') else '.'} {advice}"


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
