"""``squall api ...``: APIs over web actions through the controller's gateway, like ``wsk api`` (docs/api-gateway.md).

``api create [BASE_PATH] API_PATH API_VERB ACTION`` adds one route (the action must be a web action; its
``require-whisk-auth`` secret goes along so the gateway can hand it over); ``api create --config-file FILE`` stores a
whole OpenAPI 2 (swagger) document. ``api list`` prints wsk's table (Action, Verb, API Name, URL; ``-f`` one block
per route), ``api get`` the swagger document, ``api delete`` an API, a path of it or one verb of a path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

from app.cli import client_extra
from app.cli.client import DEFAULT_NAMESPACE, ApiClient, ClientError
from app.cli.output import json_option, name_sort_option, refuse_with_json
from app.cli.verbkit import connect, connection_options, echo_json, echo_ok, list_options
from app.core.apis import METHODS, path_parameter_names

VERBS = tuple(method.upper() for method in METHODS)  # the gateway's own list (app.core.apis)
RESPONSE_TYPES = ("html", "http", "json", "text", "svg")


@click.group()
def api() -> None:
    """Create, list, get and delete APIs served by the gateway (like ``wsk api``)."""


# -- what create sends ------------------------------------------------------------------------------


def checked_verb(verb: str) -> str:
    if verb.upper() not in VERBS:
        raise click.UsageError(f"'{verb}' is not a valid API verb.  Valid values are: {', '.join(VERBS)}")
    return verb.upper()


def checked_relpath(path: str) -> str:
    if not path.startswith("/"):
        raise click.UsageError(f"'{path}' must begin with '/'.")
    return path


@dataclass(frozen=True)
class ActionName:
    """``[/ns/][pkg/]name`` split as wsk splits it; the namespace ``_`` when not given."""

    namespace: str
    package: str
    name: str

    @classmethod
    def parse(cls, raw: str) -> ActionName:
        parts = raw.strip("/").split("/") if raw.startswith("/") else [DEFAULT_NAMESPACE, *raw.split("/")]
        if len(parts) not in (2, 3) or not all(parts):
            raise click.UsageError(f"'{raw}' is not a valid action name.")
        return cls(parts[0], parts[1] if len(parts) == 3 else "", parts[-1])

    @property
    def entity(self) -> str:
        """The name within the namespace: ``pkg/name`` or ``name``."""
        return f"{self.package}/{self.name}" if self.package else self.name


def route_apidoc(args: Sequence[str], api_name: str | None, response_type: str, apihost: str,
                 auth: str) -> tuple[dict[str, Any], ActionName]:
    """The ``apidoc`` of ``api create [BASE_PATH] API_PATH API_VERB ACTION`` as wsk builds it, and the action."""
    if len(args) not in (3, 4):
        raise click.UsageError("Invalid argument(s). Specify a swagger file or specify an API base path with an API "
                               "path, an API verb, and an action name.")
    basepath, rest = (args[0], args[1:]) if len(args) == 4 else ("/", args)
    if path_parameter_names(basepath):
        raise click.UsageError(f"The base path '{basepath}' cannot have parameters. Only the relative path "
                               "supports path parameters.")
    if api_name and not basepath.startswith("/"):
        raise click.UsageError("An API name can only be specified once.")
    relpath, verb = checked_relpath(rest[0]), checked_verb(rest[1])
    parameters = path_parameter_names(relpath)
    if parameters and response_type != "http":
        raise click.UsageError("A response type of 'http' is required when using path parameters.")
    action = ActionName.parse(rest[2])
    backend = (f"{apihost.rstrip('/')}/api/v1/web/{action.namespace}/{action.package or 'default'}/"
               f"{action.name}.http")
    apidoc: dict[str, Any] = {
        "namespace": DEFAULT_NAMESPACE, "gatewayBasePath": basepath, "gatewayPath": relpath, "gatewayMethod": verb,
        "action": {"name": action.entity, "namespace": action.namespace, "backendMethod": verb,
                   "backendUrl": backend, "authkey": auth},
    }
    if basepath.startswith("/"):
        apidoc["id"] = f"API:{DEFAULT_NAMESPACE}:{basepath}"
    if api_name:
        apidoc["apiName"] = api_name
    if parameters:
        apidoc["pathParameters"] = [{"name": n, "in": "path", "required": True, "type": "string",
                                     "description": f"Default description for '{n}'"} for n in parameters]
    return apidoc, action


class _NoAliases(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, refusing aliases (``*name``): a few lines of nested ones expand to gigabytes once
    written out as JSON, and an OpenAPI document has no use for them."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not accepted here",
                                              event.start_mark)
        return super().compose_node(parent, index)


def _yaml_as_json(path: Path, text: str) -> str:
    """A YAML swagger file as the JSON text the gateway takes (wsk converts it the same way); dates and other
    YAML-only scalars become strings."""
    try:
        document = yaml.load(text, Loader=_NoAliases)  # noqa: S506 - a SafeLoader that also refuses aliases
    except yaml.YAMLError as e:
        raise click.UsageError(f"Unable to parse YAML configuration file '{path}': {e}") from e
    return json.dumps(document, default=str)


def swagger_apidoc(path: Path) -> dict[str, Any]:
    """The ``apidoc`` of ``api create --config-file FILE``: the swagger text (JSON, or YAML as wsk reads a
    ``.yaml``/``.yml`` file), checked as wsk checks it."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        text = _yaml_as_json(path, text)
    try:
        swagger = json.loads(text)
    except ValueError as e:
        raise click.UsageError(f"Error parsing swagger file '{path}': {e}") from e
    if not isinstance(swagger, dict) or not all(swagger.get(k) for k in ("basePath", "swagger", "info", "paths")):
        raise click.UsageError("Swagger file is invalid (missing basePath, info, paths, or swagger fields)")
    if not str(swagger["basePath"]).startswith("/"):
        raise click.UsageError("Swagger file basePath must start with a leading slash (/)")
    return {"namespace": DEFAULT_NAMESPACE, "swagger": text}


def _web_secret(client: ApiClient, action: ActionName) -> Any:
    """The action's ``require-whisk-auth`` secret (None when it has none); an error unless it is a web action, in
    wsk's words."""
    full = f"/{action.namespace}/{action.entity}"
    try:
        entity = client.get_action(full, code=False)
    except ClientError as e:
        raise e.saying(f"Unable to get action '{full}': {e.message}") from e
    notes = {a.get("key"): a.get("value") for a in entity.get("annotations") or [] if isinstance(a, dict)}
    if notes.get("web-export") is not True:
        raise click.ClickException(f"Action '{full}' is not a web action. Issue 'squall action update \"{full}\" "
                                   "--web true' to convert the action to a web action.")
    secret = notes.get("require-whisk-auth")
    return None if secret is None or secret is False else secret


# -- what list prints -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    action: str
    verb: str
    api_name: str
    base_path: str
    path: str
    url: str


def _operation_action(operation: Any) -> str:
    spec = operation.get("x-openwhisk") if isinstance(operation, dict) else None
    if not isinstance(spec, dict):
        return ""
    parts = [spec.get("namespace"), spec.get("package"), spec.get("action")]
    return "/" + "/".join(str(p) for p in parts if p)


def routes(answer: Any, relpath: str | None = None, verb: str | None = None) -> list[Route]:
    """Each route of a ``getApi`` answer (in the server's order), only those of ``relpath`` and ``verb`` if given."""
    found: list[Route] = []
    entries = answer.get("apis") if isinstance(answer, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        value = entry.get("value") if isinstance(entry, dict) else None
        if isinstance(value, dict) and isinstance(value.get("apidoc"), dict):
            found += _routes_of(value, value["apidoc"], relpath, verb)
    return found


def _routes_of(value: dict[str, Any], doc: dict[str, Any], relpath: str | None, verb: str | None) -> list[Route]:
    base_url = str(value.get("gwApiUrl", "")).rstrip("/")
    raw_info, raw_paths = doc.get("info"), doc.get("paths")
    info: dict[str, Any] = raw_info if isinstance(raw_info, dict) else {}
    paths: dict[str, Any] = raw_paths if isinstance(raw_paths, dict) else {}
    found: list[Route] = []
    for path, operations in paths.items():
        if (relpath is not None and path != relpath) or not isinstance(operations, dict):
            continue
        for op, operation in operations.items():
            if op.upper() in VERBS and (verb is None or op.upper() == verb.upper()):
                found.append(Route(_operation_action(operation), op, str(info.get("title", "")),
                                   str(doc.get("basePath", "")), path, base_url + path))
    return found


def table_lines(found: Sequence[Route]) -> list[str]:
    """wsk's ``api list``: a header and a row per route; Action up to 40 wide, API Name up to 30."""
    if not found:
        return [f"{'Action':<30} {'Verb':>7} {'API Name':>20}  URL"]
    action_w = min(40, max(len("Action"), *(len(r.action) for r in found)))
    name_w = min(30, max(len("API Name"), *(len(r.api_name) for r in found)))

    def line(action: str, verb: str, name: str, url: str) -> str:
        return f"{action[:action_w]:<{action_w}} {verb:>7} {name[:name_w]:>{name_w + 1}}  {url}"
    return [line("Action", "Verb", "API Name", "URL"), *(line(r.action, r.verb, r.api_name, r.url) for r in found)]


def full_lines(found: Sequence[Route]) -> list[str]:
    """wsk's ``api list -f``: a block per route."""
    lines: list[str] = []
    for r in found:
        lines += [f"Action: {r.action}", f"   API Name: {r.api_name}", f"   Base path: {r.base_path}",
                  f"   Path: {r.path}", f"   Verb: {r.verb}", f"   URL: {r.url}"]
    return lines or [""]


# -- commands ---------------------------------------------------------------------------------------


@api.command("create")
@click.argument("args", nargs=-1, metavar="([BASE_PATH] API_PATH API_VERB ACTION | --config-file FILE)")
@click.option("--apiname", "-n", "api_name", default=None, metavar="NAME",
              help="The API's friendly name (default: its base path); not with --config-file.")
@click.option("--config-file", "-c", "config_file", default=None, metavar="FILE",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="An OpenAPI 2 (swagger) JSON document: the whole API.")
@click.option("--response-type", default="json", show_default=True, type=click.Choice(RESPONSE_TYPES),
              help="How the web action answers (http for path parameters).")
@connection_options
def api_create(args: tuple[str, ...], api_name: str | None, config_file: Path | None, response_type: str,
               apihost: str | None, auth: str | None) -> None:
    """Create a route of an API to a web action, or a whole API from --config-file."""
    if config_file is not None and args:
        raise click.UsageError("give either --config-file or BASE_PATH API_PATH API_VERB ACTION, not both")
    with connect(apihost, auth) as client:
        if config_file is not None:
            apidoc, action = swagger_apidoc(config_file), None
        else:
            apidoc, action = route_apidoc(args, api_name, response_type, client.apihost, client.auth)
            secret = _web_secret(client, action)
            if secret is not None:
                apidoc["action"]["secureKey"] = secret
        answer = client_extra.create_api(client, apidoc, response_type)
    base_url = str(answer.get("gwApiUrl", "")).rstrip("/") if isinstance(answer, dict) else ""
    if action is not None:
        path = apidoc["gatewayBasePath"].rstrip("/") + apidoc["gatewayPath"]
        echo_ok(f"created API {path} {apidoc['gatewayMethod']} for action /{action.namespace}/{action.entity}")
        click.echo(base_url + apidoc["gatewayPath"])
        return
    for route in routes({"apis": [{"value": answer}]}):
        target = f" for action {route.action}" if route.action else ""
        echo_ok(f"created API {route.base_path.rstrip('/')}{route.path} {route.verb}{target}")
        click.echo(route.url)


@api.command("get")
@click.argument("basepath", metavar="BASE_PATH | API_NAME")
@click.option("--full", "-f", is_flag=True, help="The whole API record (gwApiUrl, namespace...), not only its "
                                                 "swagger document.")
@click.option("--format", "output_format", type=click.Choice(["json", "yaml"], case_sensitive=False),
              default="json", show_default=True, help="The output format: json or yaml.")
@connection_options
def api_get(basepath: str, full: bool, output_format: str, apihost: str | None, auth: str | None) -> None:
    """Print the swagger document of the API at BASE_PATH (or named API_NAME)."""
    with connect(apihost, auth) as client:
        answer = client_extra.get_apis(client, basepath)
    entries = answer.get("apis") if isinstance(answer, dict) else None
    value = entries[0].get("value") if isinstance(entries, list) and entries and isinstance(entries[0], dict) \
        else None
    shown = value if full else (value.get("apidoc") if isinstance(value, dict) else None)
    if shown is None:
        raise click.ClickException(f"API does not exist for basepath {basepath}")
    if output_format.lower() == "yaml":
        click.echo(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True), nl=False)
        return
    echo_json(shown)


@api.command("list")
@click.argument("args", nargs=-1, metavar="[BASE_PATH | API_NAME [API_PATH [API_VERB]]]")
@list_options
@click.option("--full", "-f", is_flag=True, help="A block per route instead of the table.")
@name_sort_option
@json_option
@connection_options
def api_list(args: tuple[str, ...], limit: int, skip: int, full: bool, name_sort: bool, as_json: bool,
             apihost: str | None, auth: str | None) -> None:
    """List the namespace's APIs, one line per route (of one API, path or verb when given)."""
    refuse_with_json(as_json, full=full)
    if len(args) > 3:
        raise click.UsageError(f"Invalid argument(s): {', '.join(args[3:])}. Optional parameters are: API base "
                               "path (or API name), API relative path and operation.")
    relpath = checked_relpath(args[1]) if len(args) > 1 else None
    verb = checked_verb(args[2]) if len(args) > 2 else None
    with connect(apihost, auth) as client:
        answer = client_extra.get_apis(client, args[0] if args else None, limit if not args else 0,
                                       skip if not args else 0)
    if as_json:
        echo_json(answer)
        return
    found = routes(answer, relpath, verb)
    if name_sort:
        found = sorted(found, key=lambda r: (r.base_path + r.path + r.verb).lower())
    echo_ok("APIs")
    for line in full_lines(found) if full else table_lines(found):
        click.echo(line)


@api.command("delete")
@click.argument("basepath", metavar="BASE_PATH | API_NAME")
@click.argument("relpath", metavar="[API_PATH", required=False)
@click.argument("verb", metavar="[API_VERB]]", required=False)
@connection_options
def api_delete(basepath: str, relpath: str | None, verb: str | None, apihost: str | None, auth: str | None) -> None:
    """Delete the API at BASE_PATH (or named API_NAME), or only its API_PATH, or only that path's API_VERB."""
    relpath = checked_relpath(relpath) if relpath is not None else None
    verb = checked_verb(verb) if verb is not None else None
    with connect(apihost, auth) as client:
        client_extra.delete_api(client, basepath, relpath, verb)
    if relpath is None:
        echo_ok(f"deleted API {basepath}")
    elif verb is None:
        echo_ok(f"deleted {relpath} from {basepath}")
    else:
        echo_ok(f"deleted {relpath} {verb} from {basepath}")
