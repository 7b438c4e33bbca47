"""``squall action ...`` and ``squall activation ...``: wsk-style client verbs, over HTTP only."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from app.cli.client import ApiClient, ClientError
from app.cli.common import settings

F = TypeVar("F", bound=Callable[..., Any])

KINDS_BY_EXTENSION = {".py": "python:default", ".js": "nodejs:default"}
NATIVE_IMAGE = "openwhisk/dockerskeleton"  # what wsk's --native means


def _connection_options(fn: F) -> F:
    """``--apihost`` and ``--auth`` on every client command; they override SQUALL_CLIENT_* and the config."""
    fn = click.option("--auth", "-u", default=None, metavar="UUID:KEY",
                      help="Credentials (default: SQUALL_CLIENT_AUTH).")(fn)
    fn = click.option("--apihost", default=None, metavar="URL",
                      help="Controller URL (default: SQUALL_CLIENT_APIHOST, else http://127.0.0.1:3233).")(fn)
    return fn


@contextmanager
def _client(apihost: str | None, auth: str | None) -> Iterator[ApiClient]:
    s = settings(client={"apihost": apihost, "auth": auth}).client
    try:
        with ApiClient(s.apihost, s.auth) as client:
            yield client
    except ClientError as e:
        raise click.ClickException(e.message) from e


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False))


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [list(headers)] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def _parse_value(raw: str) -> Any:
    """Like ``wsk -p``: JSON when it parses as JSON, else the string itself."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _params(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {key: _parse_value(value) for key, value in pairs}


def _key_values(pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v in _params(pairs).items()]


def _action_body(file: Path | None, kind: str | None, main: str | None, params: Sequence[tuple[str, str]],
                 memory: int | None, timeout: int | None, docker: str | None = None,
                 native: bool = False) -> dict[str, Any]:
    if native:  # wsk's --native: the dockerskeleton image running the zip's exec
        docker = docker or NATIVE_IMAGE
    if docker is not None and kind is not None:
        raise click.UsageError("give either --kind or --docker/--native, not both")
    if file is None and docker is None:
        raise click.UsageError("give the action's FILE (only a --docker action may have none)")
    exec_: dict[str, Any] = {"kind": "blackbox", "image": docker} if docker is not None \
        else {"kind": _kind_of(file, kind)}
    if file is not None:
        exec_["code"] = _code_of(file)
    if main:
        exec_["main"] = main
    body: dict[str, Any] = {"exec": exec_}
    if params:
        body["parameters"] = _key_values(params)
    limits = {k: v for k, v in (("memory", memory), ("timeout", timeout)) if v is not None}
    if limits:
        body["limits"] = limits
    return body


def _kind_of(file: Path | None, kind: str | None) -> str:
    if kind is not None:
        return kind
    assert file is not None
    suffix = file.suffix.lower()
    if suffix == ".zip":
        raise click.UsageError("creating an action from a .zip requires --kind (e.g. --kind python:default)")
    inferred = KINDS_BY_EXTENSION.get(suffix)
    if inferred is None:
        raise click.UsageError(f"cannot infer the kind from '{file.name}'; give --kind")
    return inferred


def _code_of(file: Path) -> str:
    """A zip as base64 (the server sees it is binary), anything else as UTF-8 text."""
    data = file.read_bytes()
    if file.suffix.lower() == ".zip":
        return base64.b64encode(data).decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise click.UsageError(f"{file} is not UTF-8 text; zip binary code and give --kind") from e


_param_option = click.option("--param", "-p", "params", type=(str, str), multiple=True, metavar="KEY VALUE",
                             help="A parameter; VALUE is JSON when it parses, else a string. Repeatable.")


def _action_write_options(fn: F) -> F:
    for option in reversed([
        click.argument("name"),
        click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)),
        click.option("--kind", default=None, help="Runtime kind, e.g. python:3.11 (default: from the extension)."),
        click.option("--docker", default=None, metavar="IMAGE",
                     help="A blackbox action: this image runs it (FILE, if any, is its code)."),
        click.option("--native", is_flag=True, help=f"A blackbox action on {NATIVE_IMAGE}: FILE is a zip with exec."),
        click.option("--main", default=None, help="Entry function name (default: main)."),
        _param_option,
        click.option("--memory", "-m", type=int, default=None, metavar="MB", help="Memory limit in MB."),
        click.option("--timeout", "-t", type=int, default=None, metavar="MS", help="Timeout in milliseconds."),
        _connection_options,
    ]):
        fn = option(fn)
    return fn


# -- action -----------------------------------------------------------------------------------------


@click.group()
def action() -> None:
    """Create, get, list, delete and invoke actions (like ``wsk action``)."""


def _write_action(overwrite: bool) -> Callable[..., None]:
    def command(name: str, file: Path | None, kind: str | None, docker: str | None, native: bool, main: str | None,
                params: tuple[tuple[str, str], ...], memory: int | None, timeout: int | None, apihost: str | None,
                auth: str | None) -> None:
        body = _action_body(file, kind, main, params, memory, timeout, docker, native)
        with _client(apihost, auth) as client:
            client.put_action(name, body, overwrite=overwrite)
        click.echo(f"ok: {'updated' if overwrite else 'created'} action {name}")
    return command


@action.command("create")
@_action_write_options
def action_create(**kwargs: Any) -> None:
    """Create action NAME from FILE (.py → python:default, .js → nodejs:default; .zip needs --kind),
    or on an image with --docker IMAGE [FILE] / --native FILE."""
    _write_action(False)(**kwargs)


@action.command("update")
@_action_write_options
def action_update(**kwargs: Any) -> None:
    """Create or replace action NAME from FILE (overwrite=true)."""
    _write_action(True)(**kwargs)


@action.command("get")
@click.argument("name")
@_connection_options
def action_get(name: str, apihost: str | None, auth: str | None) -> None:
    """Print action NAME as JSON."""
    with _client(apihost, auth) as client:
        entity = client.get_action(name)
    click.echo(f"ok: got action {name}")
    _echo_json(entity)


@action.command("list")
@click.option("--limit", "-l", type=int, default=30, show_default=True, help="How many to list.")
@click.option("--skip", "-s", type=int, default=0, show_default=True, help="How many to skip.")
@_connection_options
def action_list(limit: int, skip: int, apihost: str | None, auth: str | None) -> None:
    """List the actions of the namespace."""
    with _client(apihost, auth) as client:
        actions = client.list_actions(limit=limit, skip=skip)
    rows = []
    for a in actions:
        annotations = {x.get("key"): x.get("value") for x in a.get("annotations") or []}
        rows.append([f"/{a.get('namespace', '_')}/{a.get('name', '')}", annotations.get("exec", ""),
                     a.get("version", "")])
    click.echo("actions")
    if rows:
        click.echo(_table(["NAME", "KIND", "VERSION"], rows))


@action.command("delete")
@click.argument("name")
@_connection_options
def action_delete(name: str, apihost: str | None, auth: str | None) -> None:
    """Delete action NAME."""
    with _client(apihost, auth) as client:
        client.delete_action(name)
    click.echo(f"ok: deleted action {name}")


@action.command("invoke")
@click.argument("name")
@_param_option
@click.option("--blocking", "-b", is_flag=True, help="Wait for the activation and print it.")
@click.option("--result", "-r", is_flag=True, help="Wait and print only the result (implies --blocking).")
@_connection_options
def action_invoke(name: str, params: tuple[tuple[str, str], ...], blocking: bool, result: bool,
                  apihost: str | None, auth: str | None) -> None:
    """Invoke action NAME; without -b/-r print the activation id only."""
    with _client(apihost, auth) as client:
        answer = client.invoke_action(name, _params(params), blocking=blocking, result=result)
    waited = blocking or result
    if not waited or (isinstance(answer, dict) and set(answer) == {"activationId"}):
        aid = answer.get("activationId", "") if isinstance(answer, dict) else ""
        if waited:  # the controller's blocking wait ran out: the activation continues
            click.echo(f"ok: invoked /_/{name}, but the request has not yet finished, with id {aid}")
        else:
            click.echo(f"ok: invoked /_/{name} with id {aid}")
        return
    if result:
        _echo_json(answer)
        return
    aid = answer.get("activationId", "") if isinstance(answer, dict) else ""
    click.echo(f"ok: invoked /_/{name} with id {aid}")
    _echo_json(answer)


# -- activation -------------------------------------------------------------------------------------


@click.group()
def activation() -> None:
    """Get, list and read the logs and results of activations (like ``wsk activation``)."""


@activation.command("get")
@click.argument("activation_id")
@_connection_options
def activation_get(activation_id: str, apihost: str | None, auth: str | None) -> None:
    """Print activation ACTIVATION_ID as JSON."""
    with _client(apihost, auth) as client:
        record = client.get_activation(activation_id)
    click.echo(f"ok: got activation {activation_id}")
    _echo_json(record)


@activation.command("list")
@click.argument("name", required=False)
@click.option("--limit", "-l", type=int, default=30, show_default=True, help="How many to list.")
@click.option("--skip", "-s", type=int, default=0, show_default=True, help="How many to skip.")
@_connection_options
def activation_list(name: str | None, limit: int, skip: int, apihost: str | None, auth: str | None) -> None:
    """List recent activations, newest first (of action NAME if given)."""
    with _client(apihost, auth) as client:
        records = client.list_activations(limit=limit, skip=skip, name=name)
    rows = []
    for r in records:
        annotations = {x.get("key"): x.get("value") for x in r.get("annotations") or []}
        status = r.get("statusCode")
        if status is None and isinstance(r.get("response"), dict):
            status = r["response"].get("status")
        rows.append([r.get("activationId", ""), annotations.get("kind", ""), r.get("start", ""),
                     r.get("duration", ""), status, r.get("name", "")])
    click.echo("activations")
    if rows:
        click.echo(_table(["ACTIVATION ID", "KIND", "START", "DURATION", "STATUS", "ENTITY"], rows))


@activation.command("logs")
@click.argument("activation_id")
@_connection_options
def activation_logs(activation_id: str, apihost: str | None, auth: str | None) -> None:
    """Print the log lines of ACTIVATION_ID."""
    with _client(apihost, auth) as client:
        logs = client.activation_logs(activation_id)
    for line in (logs.get("logs") if isinstance(logs, dict) else None) or []:
        click.echo(line)


@activation.command("result")
@click.argument("activation_id")
@_connection_options
def activation_result(activation_id: str, apihost: str | None, auth: str | None) -> None:
    """Print the result of ACTIVATION_ID as JSON."""
    with _client(apihost, auth) as client:
        outcome = client.activation_result(activation_id)
    _echo_json(outcome.get("result", outcome) if isinstance(outcome, dict) else outcome)


GROUPS = [action, activation]
