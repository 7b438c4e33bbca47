"""``squall action ...`` and ``squall activation ...``: wsk-style client verbs, over HTTP only."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from app.cli.verbkit import (
    F,
    Pairs,
    annotations_of,
    connect,
    connection_options,
    echo_got,
    echo_json,
    echo_listing,
    echo_ok,
    full_name,
    key_values,
    list_options,
    namespace_argument,
    param_option,
    param_values,
    qualify,
    visibility,
)

KINDS_BY_EXTENSION = {".py": "python:default", ".js": "nodejs:default", ".go": "go:default", ".jar": "java:default",
                      ".php": "php:default", ".rb": "ruby:default", ".rs": "rust:default"}
"""As wsk infers them; a .jar is sent as base64 (it is a zip), a .java source is refused: Java actions are jars."""
BINARY_EXTENSIONS = (".zip", ".jar")
NATIVE_IMAGE = "openwhisk/dockerskeleton"  # what wsk's --native means


def _action_body(file: Path | None, kind: str | None, main: str | None, params: Pairs,
                 memory: int | None, timeout: int | None, docker: str | None = None,
                 native: bool = False, sequence: str | None = None, update: bool = False) -> dict[str, Any]:
    """The PUT body; on update without any code (no FILE, image or sequence) only what was given changes."""
    if native:  # wsk's --native: the dockerskeleton image running the zip's exec
        docker = docker or NATIVE_IMAGE
    if docker is not None and kind is not None:
        raise click.UsageError("give either --kind or --docker/--native, not both")
    body: dict[str, Any] = {}
    if sequence is not None:
        if file is not None or kind is not None or docker is not None or main is not None:
            raise click.UsageError("a --sequence action takes no FILE, --kind, --docker, --native or --main")
        body["exec"] = _sequence_exec(sequence)
    elif file is not None or docker is not None:
        exec_: dict[str, Any] = {"kind": "blackbox", "image": docker} if docker is not None \
            else {"kind": _kind_of(file, kind)}
        if file is not None:
            exec_["code"] = _code_of(file)
        if main:
            exec_["main"] = main
        body["exec"] = exec_
    elif not update or kind is not None or main is not None:
        raise click.UsageError("give the action's FILE (only a --docker or --sequence action may have none)")
    if params:
        body["parameters"] = key_values(params)
    limits = {k: v for k, v in (("memory", memory), ("timeout", timeout)) if v is not None}
    if limits:
        body["limits"] = limits
    return body


def _sequence_exec(sequence: str) -> dict[str, Any]:
    """``a,pkg/b,/ns/c`` → components ``/_/a``, ``/_/pkg/b``, ``/ns/c`` (wsk's; the server resolves ``_``)."""
    names = [name.strip() for name in sequence.split(",")]
    if not all(names):
        raise click.UsageError(f"--sequence '{sequence}' has an empty component")
    return {"kind": "sequence", "components": [qualify(name) for name in names]}


def _kind_of(file: Path | None, kind: str | None) -> str:
    if kind is not None:
        return kind
    assert file is not None
    suffix = file.suffix.lower()
    if suffix == ".zip":
        raise click.UsageError("creating an action from a .zip requires --kind (e.g. --kind python:default)")
    if suffix == ".java":
        raise click.UsageError("Java actions are jars: compile the source (javac, jar) and give the .jar, with "
                               "--main naming the class")
    inferred = KINDS_BY_EXTENSION.get(suffix)
    if inferred is None:
        raise click.UsageError(f"cannot infer the kind from '{file.name}'; give --kind")
    return inferred


def _code_of(file: Path) -> str:
    """A zip as base64 (the server sees it is binary), anything else as UTF-8 text."""
    data = file.read_bytes()
    if file.suffix.lower() in BINARY_EXTENSIONS:
        return base64.b64encode(data).decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise click.UsageError(f"{file} is not UTF-8 text; zip binary code and give --kind") from e


def _action_write_options(fn: F) -> F:
    for option in reversed([
        click.argument("name"),
        click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)),
        click.option("--kind", default=None, help="Runtime kind, e.g. python:3.11 (default: from the extension)."),
        click.option("--docker", default=None, metavar="IMAGE",
                     help="A blackbox action: this image runs it (FILE, if any, is its code)."),
        click.option("--native", is_flag=True, help=f"A blackbox action on {NATIVE_IMAGE}: FILE is a zip with exec."),
        click.option("--main", default=None, help="Entry function name (default: main)."),
        click.option("--sequence", default=None, metavar="A,B,...",
                     help="A sequence of these actions (a bare name means /_/name)."),
        param_option,
        click.option("--memory", "-m", type=int, default=None, metavar="MB", help="Memory limit in MB."),
        click.option("--timeout", "-t", type=int, default=None, metavar="MS", help="Timeout in milliseconds."),
        connection_options,
    ]):
        fn = option(fn)
    return fn


# -- action -----------------------------------------------------------------------------------------


STATUS_NAMES = {0: "success", 1: "application error", 2: "developer error", 3: "internal error"}
"""``statusCode`` as ``wsk activation list`` names it."""

@click.group()
def action() -> None:
    """Create, get, list, delete and invoke actions (like ``wsk action``)."""


def _write_action(overwrite: bool) -> Callable[..., None]:
    def command(name: str, file: Path | None, kind: str | None, docker: str | None, native: bool, main: str | None,
                sequence: str | None, params: Pairs, memory: int | None, timeout: int | None, apihost: str | None,
                auth: str | None) -> None:
        body = _action_body(file, kind, main, params, memory, timeout, docker, native, sequence, update=overwrite)
        with connect(apihost, auth) as client:
            client.put_action(name, body, overwrite=overwrite)
        echo_ok(f"{'updated' if overwrite else 'created'} action {name}")
    return command


@action.command("create")
@_action_write_options
def action_create(**kwargs: Any) -> None:
    """Create action NAME from FILE (.py → python:default, .js → nodejs:default; .zip needs --kind),
    on an image with --docker IMAGE [FILE] / --native FILE, or as a --sequence A,B,..."""
    _write_action(False)(**kwargs)


@action.command("update")
@_action_write_options
def action_update(**kwargs: Any) -> None:
    """Create or replace action NAME (overwrite=true); without FILE only the options given change."""
    _write_action(True)(**kwargs)


@action.command("get")
@click.argument("name")
@connection_options
def action_get(name: str, apihost: str | None, auth: str | None) -> None:
    """Print action NAME as JSON."""
    with connect(apihost, auth) as client:
        entity = client.get_action(name)
    echo_got("action", name, entity)


@action.command("list")
@click.argument("where", metavar="[/NAMESPACE | PACKAGE]", required=False)
@list_options
@connection_options
def action_list(where: str | None, limit: int, skip: int, apihost: str | None, auth: str | None) -> None:
    """List the actions of the namespace (those in packages as /ns/pkg/name), of /NAMESPACE, or of PACKAGE."""
    with connect(apihost, auth) as client:
        if where and where.strip("/") and (not where.startswith("/") or "/" in where.strip("/")):
            actions = client.list_package_actions(where, limit=limit, skip=skip)
        else:
            actions = client.list_actions(limit=limit, skip=skip, namespace=namespace_argument(where))
    rows = [[full_name(a), visibility(a), annotations_of(a).get("exec", ""), a.get("version", "")] for a in actions]
    echo_listing("actions", ["NAME", "VISIBILITY", "KIND", "VERSION"], rows)


@action.command("delete")
@click.argument("name")
@connection_options
def action_delete(name: str, apihost: str | None, auth: str | None) -> None:
    """Delete action NAME."""
    with connect(apihost, auth) as client:
        client.delete_action(name)
    echo_ok(f"deleted action {name}")


@action.command("invoke")
@click.argument("name")
@param_option
@click.option("--blocking", "-b", is_flag=True, help="Wait for the activation and print it.")
@click.option("--result", "-r", is_flag=True, help="Wait and print only the result (implies --blocking).")
@connection_options
def action_invoke(name: str, params: Pairs, blocking: bool, result: bool,
                  apihost: str | None, auth: str | None) -> None:
    """Invoke action NAME; without -b/-r print the activation id only."""
    with connect(apihost, auth) as client:
        answer = client.invoke_action(name, param_values(params), blocking=blocking, result=result)
    waited = blocking or result
    if not waited or (isinstance(answer, dict) and set(answer) == {"activationId"}):
        aid = answer.get("activationId", "") if isinstance(answer, dict) else ""
        if waited:  # the controller's blocking wait ran out: the activation continues
            echo_ok(f"invoked {qualify(name)}, but the request has not yet finished, with id {aid}")
        else:
            echo_ok(f"invoked {qualify(name)} with id {aid}")
        return
    if result:
        echo_json(answer)
        return
    aid = answer.get("activationId", "") if isinstance(answer, dict) else ""
    echo_ok(f"invoked {qualify(name)} with id {aid}")
    echo_json(answer)


# -- activation -------------------------------------------------------------------------------------


@click.group()
def activation() -> None:
    """Get, list and read the logs and results of activations (like ``wsk activation``)."""


@activation.command("get")
@click.argument("activation_id")
@connection_options
def activation_get(activation_id: str, apihost: str | None, auth: str | None) -> None:
    """Print activation ACTIVATION_ID as JSON."""
    with connect(apihost, auth) as client:
        record = client.get_activation(activation_id)
    echo_got("activation", activation_id, record)


@activation.command("list")
@click.argument("name", required=False)
@list_options
@connection_options
def activation_list(name: str | None, limit: int, skip: int, apihost: str | None, auth: str | None) -> None:
    """List recent activations, newest first (of action NAME if given)."""
    with connect(apihost, auth) as client:
        records = client.list_activations(limit=limit, skip=skip, name=name)
    rows = []
    for r in records:
        status = r.get("statusCode")
        if status is None and isinstance(r.get("response"), dict):
            status = r["response"].get("status")
        start = r.get("start")
        when = datetime.fromtimestamp(start / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") if isinstance(start, int) \
            else ""
        rows.append([when, r.get("activationId", ""), annotations_of(r).get("kind", ""),
                     f"{r['duration']}ms" if isinstance(r.get("duration"), int) else "",
                     STATUS_NAMES.get(status, status), r.get("name", "")])
    echo_listing("activations", ["DATETIME (UTC)", "ACTIVATION ID", "KIND", "DURATION", "STATUS", "ENTITY"], rows)


@activation.command("logs")
@click.argument("activation_id")
@connection_options
def activation_logs(activation_id: str, apihost: str | None, auth: str | None) -> None:
    """Print the log lines of ACTIVATION_ID."""
    with connect(apihost, auth) as client:
        logs = client.activation_logs(activation_id)
    for line in (logs.get("logs") if isinstance(logs, dict) else None) or []:
        click.echo(line)


@activation.command("result")
@click.argument("activation_id")
@connection_options
def activation_result(activation_id: str, apihost: str | None, auth: str | None) -> None:
    """Print the result of ACTIVATION_ID as JSON."""
    with connect(apihost, auth) as client:
        outcome = client.activation_result(activation_id)
    echo_json(outcome.get("result", outcome) if isinstance(outcome, dict) else outcome)


GROUPS = [action, activation]
