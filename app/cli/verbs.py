"""``squall action ...``: wsk-style action verbs, over HTTP only; the module also gathers every client group the
``squall`` command registers (``GROUPS``)."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from app.cli import namespaces
from app.cli.action_get import action_url, save_code
from app.cli.activations import activation
from app.cli.apis import api
from app.cli.client import ApiClient, ClientError
from app.cli.exits import EXIT_TIMED_OUT
from app.cli.output import echo_entity, json_option, name_sort_option, name_sorted, refuse_with_json
from app.cli.param_files import annotation_file_option, given_fields, merged_values, param_file_option
from app.cli.summaries import action_summary
from app.cli.verbkit import (
    F,
    Pairs,
    annotation_option,
    annotations_of,
    connect,
    connection_options,
    echo_json,
    echo_listing,
    echo_ok,
    full_name,
    list_options,
    namespace_argument,
    param_option,
    qualify,
    visibility,
)
from app.cli.web_flags import web_annotations, web_option, web_secure, web_secure_option, with_values

KINDS_BY_EXTENSION = {".py": "python:default", ".js": "nodejs:default", ".go": "go:default", ".jar": "java:default",
                      ".php": "php:default", ".rb": "ruby:default", ".rs": "rust:default"}
"""As wsk infers them; a .jar is sent as base64 (it is a zip), a .java source is refused: Java actions are jars."""
BINARY_EXTENSIONS = (".zip", ".jar")
NATIVE_IMAGE = "openwhisk/dockerskeleton"  # what wsk's --native means


def _action_body(file: Path | None, kind: str | None, main: str | None, params: Pairs,
                 memory: int | None, timeout: int | None, docker: str | None = None,
                 native: bool = False, sequence: str | None = None, update: bool = False, *,
                 param_files: Sequence[Path] = (), annotations: Pairs = (), annotation_files: Sequence[Path] = (),
                 logsize: int | None = None, concurrency: int | None = None) -> dict[str, Any]:
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
    body.update(given_fields(param_files, params, annotation_files, annotations))
    limits = {k: v for k, v in (("memory", memory), ("timeout", timeout), ("logs", logsize),
                                ("concurrency", concurrency)) if v is not None}
    if limits:
        body["limits"] = limits
    return body


def _with_web_flags(body: dict[str, Any], web: str | None, secure: str | None,
                    existing: list[dict[str, Any]] | None, deleted: Sequence[str] = ()) -> dict[str, Any]:
    """``body`` with the annotations of ``--web``/``--web-secure`` (over ``-a``'s) and ``--del-annotation``;
    ``existing`` is the stored action's annotations on update."""
    notes = list(body.get("annotations") or [])
    if web is not None:
        notes = with_values(notes, web_annotations(web))
    drop = list(deleted)
    if secure is not None:
        adds, removed = web_secure(secure, web, notes, existing)
        notes = with_values([n for n in notes if n["key"] not in removed], adds)
        drop += removed
    out = {k: v for k, v in body.items() if k != "annotations"}
    if notes:
        out["annotations"] = notes
    if drop:
        out["delAnnotations"] = list(dict.fromkeys(drop))
    return out


def _stored_annotations(client: ApiClient, name: str) -> list[dict[str, Any]] | None:
    """The annotations of action ``name``, or None when there is no such action (update creates it)."""
    try:
        entity = client.get_action(name, code=False)
    except ClientError as e:
        if e.status == 404:
            return None
        raise
    notes = entity.get("annotations") if isinstance(entity, dict) else None
    return [n for n in notes if isinstance(n, dict)] if isinstance(notes, list) else []


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
        # A path, or with --copy the name of the action to copy (so not checked as a path here).
        click.argument("file", required=False),
        click.option("--kind", default=None, help="Runtime kind, e.g. python:3.11 (default: from the extension)."),
        click.option("--docker", default=None, metavar="IMAGE",
                     help="A blackbox action: this image runs it (FILE, if any, is its code)."),
        click.option("--native", is_flag=True, help=f"A blackbox action on {NATIVE_IMAGE}: FILE is a zip with exec."),
        click.option("--main", default=None, help="Entry function name (default: main)."),
        click.option("--sequence", default=None, metavar="A,B,...",
                     help="A sequence of these actions (a bare name means /_/name)."),
        click.option("--copy", is_flag=True,
                     help="FILE names an existing action: copy its code, parameters and annotations (-p and -a "
                          "given here win)."),
        param_option,
        param_file_option,
        annotation_option,
        annotation_file_option,
        web_option,
        web_secure_option,
        click.option("--memory", "-m", type=int, default=None, metavar="MB", help="Memory limit in MB."),
        click.option("--timeout", "-t", type=int, default=None, metavar="MS", help="Timeout in milliseconds."),
        click.option("--logsize", "-l", type=int, default=None, metavar="MB", help="Log size limit in MB."),
        click.option("--concurrency", "-c", type=int, default=None, metavar="N",
                     help="How many activations one container may run at once."),
        connection_options,
    ]):
        fn = option(fn)
    return fn


# -- action -----------------------------------------------------------------------------------------


@click.group()
def action() -> None:
    """Create, get, list, delete and invoke actions (like ``wsk action``)."""


def _code_file(file: str | None) -> Path | None:
    """FILE as a readable file (click's own check, run here because with --copy FILE is an action's name)."""
    if file is None:
        return None
    checked = click.Path(exists=True, dir_okay=False, path_type=Path).convert(file, None, None)
    assert isinstance(checked, Path)
    return checked


def _copied(client: ApiClient, source: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with the code of action ``source``, and its parameters and annotations under those in ``body``
    (wsk's ``--copy``; limits are not copied, as in wsk)."""
    existing = client.get_action(source, code=True)
    if not isinstance(existing, dict) or not isinstance(existing.get("exec"), dict):
        raise ClientError(0, f"action '{source}' has no code to copy", exit_code=1)
    out = {**body, "exec": {k: v for k, v in existing["exec"].items() if k != "binary"}}
    for field in ("parameters", "annotations"):
        given = list(body.get(field) or [])
        keys = {item["key"] for item in given}
        kept = [item for item in existing.get(field) or []
                if isinstance(item, dict) and item.get("key") not in keys]
        if given or kept:
            out[field] = given + kept
    return out


def _write_action(overwrite: bool) -> Callable[..., None]:
    def command(name: str, file: str | None, kind: str | None, docker: str | None, native: bool, main: str | None,
                sequence: str | None, copy: bool, params: Pairs, param_files: tuple[Path, ...], annotations: Pairs,
                annotation_files: tuple[Path, ...], web: str | None, web_secure: str | None, memory: int | None,
                timeout: int | None, logsize: int | None, concurrency: int | None, apihost: str | None,
                auth: str | None, del_annotations: tuple[str, ...] = ()) -> None:
        if copy:
            if file is None:
                raise click.UsageError("--copy needs the name of the action to copy: squall action create NEW "
                                       "EXISTING --copy")
            if kind is not None or docker is not None or native or main is not None or sequence is not None:
                raise click.UsageError("--copy takes the code of the action it copies: give no --kind, --docker, "
                                       "--native, --main or --sequence")
        code_file = None if copy else _code_file(file)
        body = _action_body(code_file, kind, main, params, memory, timeout, docker, native, sequence,
                            update=overwrite or copy, param_files=param_files, annotations=annotations,
                            annotation_files=annotation_files, logsize=logsize, concurrency=concurrency)
        with connect(apihost, auth) as client:
            if copy:
                assert file is not None
                body = _copied(client, file, body)
            existing = _stored_annotations(client, name) if overwrite and web_secure is not None else None
            client.put_action(name, _with_web_flags(body, web, web_secure, existing, del_annotations),
                              overwrite=overwrite)
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
@click.option("--del-annotation", "del_annotations", multiple=True, metavar="KEY",
              help="Remove this annotation from the action. Repeatable.")
def action_update(**kwargs: Any) -> None:
    """Create or replace action NAME (overwrite=true); without FILE only the options given change."""
    _write_action(True)(**kwargs)


@action.command("get")
@click.argument("name")
@click.argument("field", required=False)
@click.option("--summary", "-s", is_flag=True,
              help="Only its name, description and parameters (* bound, ** bound and final).")
@click.option("--url", "-r", is_flag=True, help="Only its URL (the web URL of a web action).")
@click.option("--save", is_flag=True, help="Save its code to NAME.<extension of its kind> here.")
@click.option("--save-as", default=None, metavar="FILE", help="Save its code to FILE.")
@json_option
@connection_options
def action_get(name: str, field: str | None, summary: bool, url: bool, save: bool, save_as: str | None,
               as_json: bool, apihost: str | None, auth: str | None) -> None:
    """Print action NAME as JSON (or only its FIELD, e.g. limits)."""
    refuse_with_json(as_json, summary=summary, url=url, save=save or save_as is not None)
    with connect(apihost, auth) as client:
        entity = client.get_action(name, code=not (summary or url))
        apihost_used = client.apihost
    if save or save_as is not None:
        echo_ok(f"saved action code to {save_code(entity, save_as)}")
    elif url:
        echo_ok(f"got action {name}")
        click.echo(action_url(apihost_used, entity))
    elif summary:
        for line in action_summary(entity):
            click.echo(line)
    else:
        echo_entity("action", name, entity, field, as_json)


@action.command("list")
@click.argument("where", metavar="[/NAMESPACE | PACKAGE]", required=False)
@list_options
@name_sort_option
@json_option
@connection_options
def action_list(where: str | None, limit: int, skip: int, name_sort: bool, as_json: bool, apihost: str | None,
                auth: str | None) -> None:
    """List the actions of the namespace (those in packages as /ns/pkg/name), of /NAMESPACE, or of PACKAGE."""
    with connect(apihost, auth) as client:
        if where and where.strip("/") and (not where.startswith("/") or "/" in where.strip("/")):
            actions = client.list_package_actions(where, limit=limit, skip=skip)
        else:
            actions = client.list_actions(limit=limit, skip=skip, namespace=namespace_argument(where))
    if as_json:
        echo_json(actions)
        return
    if name_sort:
        actions = name_sorted("actions", actions)
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
@param_file_option
@click.option("--blocking", "-b", is_flag=True, help="Wait for the activation and print it.")
@click.option("--result", "-r", is_flag=True, help="Wait and print only the result (implies --blocking).")
@connection_options
def action_invoke(name: str, params: Pairs, param_files: tuple[Path, ...], blocking: bool, result: bool,
                  apihost: str | None, auth: str | None) -> None:
    """Invoke action NAME; without -b/-r print the activation id only.

    As wsk: a blocking invoke that outlasts the controller's wait prints its id on stderr and exits 202; one whose
    action failed prints the activation (with -r its result) on stderr and exits 246 (502 − 256)."""
    waited = blocking or result
    with connect(apihost, auth) as client:
        try:
            answer = client.invoke_action(name, merged_values(param_files, params), blocking=blocking,
                                          result=result)
        except ClientError as e:
            if not (waited and e.status == 502 and _is_outcome(e.body, result)):
                raise
            _invocation_message(name, e.body, header=not result, err=True)
            sys.exit(e.exit_code)
    if not waited:
        aid = answer.get("activationId", "") if isinstance(answer, dict) else ""
        echo_ok(f"invoked {qualify(name)} with id {aid}")
        return
    if isinstance(answer, dict) and set(answer) == {"activationId"}:  # the wait ran out: it continues
        click.echo(f"ok: invoked {qualify(name)}, but the request has not yet finished, with id "
                   f"{answer['activationId']}", err=True)
        sys.exit(EXIT_TIMED_OUT)
    _invocation_message(name, answer, header=not result, err=False)


def _is_outcome(body: Any, result: bool) -> bool:
    """A failed blocking invoke's answer: the activation, or with -r its result (any object but the platform's
    own ``{"error", "code"}`` envelope, which means the invoke itself failed)."""
    if not isinstance(body, dict):
        return False
    return set(body) != {"error", "code"} if result else "activationId" in body


def _invocation_message(name: str, answer: Any, *, header: bool, err: bool) -> None:
    """wsk's ``printInvocationMsg``: ``ok: invoked /ns/name with id ID`` (not with -r), then the JSON."""
    if header:
        aid = answer.get("activationId", "") if isinstance(answer, dict) else ""
        click.echo(f"ok: invoked {qualify(name)} with id {aid}", err=err)
    click.echo(json.dumps(answer, indent=2), err=err)


GROUPS = [action, activation, api, namespaces.list_entities]
"""The groups (and the top-level ``list``) ``app.cli.main`` registers."""
