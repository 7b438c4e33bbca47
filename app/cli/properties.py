"""``squall property set|unset|get``: wsk's property verbs, over the property file (app/cli/wskprops.py).

The messages are wsk's (openwhisk-cli ``commands/property.go`` and ``wski18n/resources/en_US.all.json``), with
``squall`` for ``wsk``. ``--namespace`` (``NAMESPACE``) is the older wsk's, which current wsk dropped for the key's
own namespace; ``--apigw-access-token`` stores the ``APIGW_ACCESS_TOKEN`` that ``wsk api`` reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import click
import httpx

from app.cli import wskprops
from app.cli.client import DEFAULT_APIVERSION, DEFAULT_NAMESPACE, ClientError
from app.cli.clientconfig import ClientConfig
from app.cli.common import settings
from app.cli.exits import EXIT_GENERAL, CommandFailed
from app.cli.verbkit import client_config, client_flags, explain, open_client

UNKNOWN = "Unknown"


@dataclass(frozen=True)
class Property:
    option: str  # the flag, without ``--``
    key: str  # in the property file
    title: str  # as ``property get`` shows it
    set_message: str
    unset_message: str


PROPERTIES = (  # wsk's order of set and unset
    Property("cert", "CERT", "client cert",
             "client cert set. Run 'squall property get --cert' to see the new value.", "client cert unset."),
    Property("key", "KEY", "Client key",
             "client key set. Run 'squall property get --key' to see the new value.", "client key unset."),
    Property("auth", "AUTH", "whisk auth",
             "whisk auth set. Run 'squall property get --auth' to see the new value.", "whisk auth unset."),
    Property("apihost", "APIHOST", "whisk API host", "whisk API host set to {value}", "whisk API host unset."),
    Property("apiversion", "APIVERSION", "whisk API version", "whisk API version set to {value}",
             f"whisk API version unset; the default value of {DEFAULT_APIVERSION} will be used."),
    Property("namespace", "NAMESPACE", "whisk namespace", "whisk namespace set to {value}",
             f"whisk namespace unset; the default value of {DEFAULT_NAMESPACE} will be used."),
    Property("apigw_access_token", "APIGW_ACCESS_TOKEN", "whisk API gateway access token",
             "whisk API gateway access token set.", "whisk API gateway access token unset."),
)


def _props_path() -> Path | None:
    """The file to write: found without reading it, so that a broken value in it can still be replaced."""
    return wskprops.location(settings().client.config_file)


def _write(updates: dict[str, str], removals: list[str]) -> None:
    try:
        wskprops.update(_props_path(), updates, removals)
    except wskprops.PropsError as e:
        raise CommandFailed(f"Unable to set the property value(s): {e}", EXIT_GENERAL) from e


def _check_apihost(value: str) -> None:
    host = value if "://" in value else "https://" + value
    try:
        url = httpx.URL(host)
        problem = "" if url.scheme in ("http", "https") and url.host else "it names no http(s) host"
    except httpx.InvalidURL as e:
        problem = str(e)
    if problem:
        raise CommandFailed(f"Unable to set API host value; the API host value '{value}' is invalid: {problem}")


def _check_namespace(value: str, auth: str | None, apihost: str | None) -> None:
    """Only a namespace the key may use, as the older wsk checked (with the key and host being set, if any)."""
    config = client_config(apihost, auth)
    try:
        with open_client(config) as api:
            namespaces = api.list_namespaces()
    except ClientError as e:
        raise CommandFailed(f"Authenticated user does not have namespace '{value}'; set command failed: "
                            f"{explain(e, config)}", e.exit_code) from e
    if value not in (namespaces if isinstance(namespaces, list) else []):
        raise CommandFailed(f"Namespace '{value}' is not in the list of entitled namespaces")


@click.group("property")
def property_group() -> None:
    """Set, unset and show what the client verbs connect with (like ``wsk property``), in ~/.wskprops or the file
    WSK_CONFIG_FILE names."""


@property_group.command("set")
@click.option("--cert", default=None, metavar="FILE", help="Client certificate (PEM) for TLS.")
@click.option("--key", default=None, metavar="FILE", help="Client certificate's private key (PEM).")
@click.option("--auth", "-u", default=None, metavar="UUID:KEY", help="Authorization key.")
@click.option("--apihost", default=None, metavar="HOST", help="whisk API host (no scheme means https://).")
@click.option("--apiversion", default=None, metavar="VERSION", help="whisk API version (v1).")
@click.option("--namespace", default=None, metavar="NAMESPACE", help="Namespace meant by _ (default: the key's own).")
@click.option("--apigw-access-token", "apigw_access_token", default=None, metavar="TOKEN",
              help="API gateway access token (for api verbs).")
@client_flags
def property_set(**values: str | None) -> None:
    """Store one or more properties."""
    given = {p.option: values[p.option] for p in PROPERTIES if values[p.option]}
    if not given:
        raise click.UsageError("give at least one property to set, e.g. --apihost HOST or --auth UUID:KEY")
    if "apihost" in given:
        _check_apihost(str(given["apihost"]))
    if "auth" in given and ":" not in str(given["auth"]):
        raise CommandFailed("Unable to set the property value: whisk auth must be 'uuid:key' (as `squall admin "
                            "user create` prints it)")
    if "namespace" in given:
        _check_namespace(str(given["namespace"]), given.get("auth"), given.get("apihost"))
    _write({p.key: str(given[p.option]) for p in PROPERTIES if p.option in given}, [])
    for p in PROPERTIES:
        if p.option in given:
            click.echo("ok: " + p.set_message.format(value=given[p.option]))


@property_group.command("unset")
@click.option("--cert", is_flag=True, help="client cert")
@click.option("--key", is_flag=True, help="client key")
@click.option("--auth", is_flag=True, help="authorization key")
@click.option("--apihost", is_flag=True, help="whisk API host")
@click.option("--apiversion", is_flag=True, help="whisk API version")
@click.option("--namespace", is_flag=True, help="whisk namespace")
@click.option("--apigw-access-token", "apigw_access_token", is_flag=True, help="API gateway access token")
@client_flags
def property_unset(**chosen: bool) -> None:
    """Remove one or more properties from the file."""
    removed = [p for p in PROPERTIES if chosen[p.option]]
    if not removed:
        raise click.UsageError("give at least one property to unset, e.g. --auth")
    _write({}, [p.key for p in removed])
    for p in removed:
        click.echo("ok: " + p.unset_message)


_ALL_ORDER = ("apihost", "auth", "namespace", "cert", "key", "apiversion", "cliversion")  # wsk's, for --all
_ONE_ORDER = ("apihost", "auth", "namespace", "cert", "key", "cliversion", "apiversion")  # and for chosen ones
_ONE_TAB = ("whisk API version", "whisk CLI version", "whisk API build number")  # the long titles


def _line(title: str, value: str, output: str) -> str:
    if output == "raw":
        return value
    tabs = "\t" if title in _ONE_TAB else "\t\t"
    return f"{title}{tabs}{value}"


@property_group.command("get")
@click.option("--all", "all_", is_flag=True, help="All properties (the default).")
@click.option("--apihost", is_flag=True, help="whisk API host")
@click.option("--auth", is_flag=True, help="authorization key")
@click.option("--namespace", is_flag=True, help="whisk namespace")
@click.option("--cert", is_flag=True, help="client cert")
@click.option("--key", is_flag=True, help="Client key")
@click.option("--apiversion", is_flag=True, help="whisk API version")
@click.option("--cliversion", is_flag=True, help="whisk CLI version")
@click.option("--apibuild", is_flag=True, help="whisk API build version")
@click.option("--apibuildno", is_flag=True, help="whisk API build number")
@click.option("--output", "-o", type=click.Choice(["std", "raw"]), default="std", show_default=True,
              help="raw: the value alone (with one property).")
@client_flags
def property_get(all_: bool, output: str, **chosen: bool) -> None:
    """Show the properties in effect (flags, then environment, then the file, then defaults)."""
    if not any(chosen.values()):
        all_ = True
    if all_ and output == "raw":
        raise CommandFailed("--output|-o raw only supported with specific property type")
    config = client_config()
    values: dict[str, Any] = {"apihost": config.apihost, "auth": config.auth, "cert": config.cert,
                              "key": config.key, "apiversion": config.apiversion,
                              "cliversion": metadata.version("squall")}
    titles = {"apihost": "whisk API host", "auth": "whisk auth", "namespace": "whisk namespace",
              "cert": "client cert", "key": "Client key", "apiversion": "whisk API version",
              "cliversion": "whisk CLI version"}
    for name in _ALL_ORDER if all_ else _ONE_ORDER:
        if all_ or chosen[name]:
            value = _namespace(config) if name == "namespace" else values[name]
            click.echo(_line(titles[name], str(value), output))
    if all_ or chosen["apibuild"] or chosen["apibuildno"]:
        _show_build(config, all_ or chosen["apibuild"], all_ or chosen["apibuildno"], output)


def _namespace(config: ClientConfig) -> str:
    """The ``NAMESPACE`` property, else the key's own namespace as the server names it (``_`` if it cannot)."""
    if config.namespace != DEFAULT_NAMESPACE:
        return str(config.namespace)
    try:
        with open_client(config) as api:
            names = api.list_namespaces()
    except ClientError:
        return DEFAULT_NAMESPACE
    return str(names[0]) if isinstance(names, list) and names else DEFAULT_NAMESPACE


def _show_build(config: ClientConfig, build: bool, buildno: bool, output: str) -> None:
    """The API build, as ``GET /api/v1`` reports it; ``Unknown`` and an error if the server cannot be asked."""
    failure: ClientError | None = None
    try:
        with open_client(config) as api:
            info = api.info()
    except ClientError as e:
        failure, info = e, {}
    if not isinstance(info, dict):
        info = {}
    if build:
        click.echo(_line("whisk API build", str(info.get("build", UNKNOWN)), output))
    if buildno:
        click.echo(_line("whisk API build number", str(info.get("buildno", UNKNOWN)), output))
    if failure is not None:
        raise CommandFailed(f"Unable to obtain API build information: {explain(failure, config)}",
                            failure.exit_code) from failure
