"""``squall trigger ...``: triggers and their feeds, like ``wsk trigger``, over HTTP only.

A feed trigger is a trigger with a ``feed`` annotation whose feed action (e.g. ``/whisk.system/alarms/interval``)
the client drives: after storing the trigger it invokes the feed, blocking, with ``lifecycleEvent`` ``CREATE``,
``triggerName`` ``/ns/trigger``, its ``authKey`` and the ``-p`` parameters (which then go to the feed, not the
trigger); a failed feed takes the trigger away again. ``update`` with ``-p`` sends ``UPDATE`` and ``delete`` sends
``DELETE`` before the trigger goes; ``get`` asks the feed with ``READ`` and prints its answer.

As wsk, ``-F/--feed-param`` and ``-T/--trigger-param`` split the two: ``-F`` only to the feed, ``-T`` only to the
trigger (a feed trigger may then keep parameters of its own); they do not mix with ``-p``/``-P``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from app.cli.client import ApiClient, ClientError
from app.cli.output import echo_entity, json_option, name_sort_option, name_sorted, refuse_with_json
from app.cli.param_files import (
    annotation_file_option,
    merged_key_values,
    merged_values,
    param_file_option,
)
from app.cli.summaries import trigger_summary
from app.cli.verbkit import (
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

FEED_ANNOTATION = "feed"


def _feed(client: ApiClient, feed: str, event: str, trigger: str, params: dict[str, Any]) -> str:
    """Invoke ``feed`` blocking for ``event`` on ``trigger`` (``/ns/name``); its activation id. Raises
    ``ClientError`` with the feed's own error when the feed fails."""
    payload = {**params, "lifecycleEvent": event, "triggerName": trigger, "authKey": client.auth}
    answer = client.invoke_action(feed, payload, blocking=True)
    return str(answer.get("activationId", "")) if isinstance(answer, dict) else ""


def _trigger_path(entity: Any, name: str) -> str:
    """``/ns/name`` as the server stored it; the qualified command-line name if the answer lacks it."""
    if isinstance(entity, dict) and entity.get("namespace") and entity.get("name"):
        return full_name(entity)
    return qualify(name)


_feed_option = click.option("--feed", "-f", default=None, metavar="ACTION",
                            help="The feed action that fires this trigger, e.g. /whisk.system/alarms/interval; "
                                 "-p goes to it.")


_split_options = [
    click.option("--feed-param", "-F", "feed_params", type=(str, str), multiple=True, metavar="KEY VALUE",
                 help="A parameter for the feed action only, parsed like -p. Repeatable; not with -p/-P."),
    click.option("--trigger-param", "-T", "trigger_params", type=(str, str), multiple=True, metavar="KEY VALUE",
                 help="A parameter of the trigger itself, even with a feed. Repeatable; not with -p/-P."),
]

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _split(params: Pairs, param_files: Sequence[Path], feed_params: Pairs, trigger_params: Pairs) -> bool:
    """Whether -F/-T were given (wsk's "extended" form); a usage error when they are mixed with -p/-P."""
    if not feed_params and not trigger_params:
        return False
    if params or param_files:
        raise click.UsageError("give either -p/-P, or -F/--feed-param and -T/--trigger-param, not both: with a "
                               "feed, -p goes to the feed; -F and -T say which of the two each value is for")
    return True


def _with_feed(notes: list[dict[str, Any]], feed: str) -> list[dict[str, Any]]:
    """The annotations with ``feed`` as the one feed annotation."""
    return [*(n for n in notes if n["key"] != FEED_ANNOTATION), {"key": FEED_ANNOTATION, "value": feed}]


def _write_options(*extra: Decorator) -> Decorator:
    """NAME, -p, -P, -a, -A, then ``extra``, then the connection options, in that order in ``--help``."""
    options: list[Decorator] = [click.argument("name"), param_option, param_file_option, annotation_option,
                                annotation_file_option, *extra, connection_options]

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            fn = option(fn)
        return fn
    return decorate


@click.group()
def trigger() -> None:
    """Create, fire, get, list and delete triggers, with or without a feed (like ``wsk trigger``)."""


def _create(client: ApiClient, name: str, params: Pairs, annotations: Pairs, feed: str | None, *,
            param_files: Sequence[Path] = (), annotation_files: Sequence[Path] = (), feed_params: Pairs = (),
            trigger_params: Pairs = ()) -> None:
    body: dict[str, Any] = {}
    notes = merged_key_values(annotation_files, annotations, "annotation")
    if _split(params, param_files, feed_params, trigger_params):
        if feed is None and feed_params:
            raise click.UsageError("a trigger without a feed cannot have feed parameters (-F); give --feed, or -T")
        values, own = merged_values((), feed_params), merged_values((), trigger_params)
    else:  # wsk's first form: -p is the feed's when there is one, else the trigger's
        values = merged_values(param_files, params)
        own = values if feed is None else {}
    if own:
        body["parameters"] = [{"key": k, "value": v} for k, v in own.items()]
    if feed is not None:
        notes = _with_feed(notes, qualify(feed))
    if notes:
        body["annotations"] = notes
    stored = client.put_entity("triggers", name, body)
    if feed is None:
        return
    try:
        aid = _feed(client, qualify(feed), "CREATE", _trigger_path(stored, name), values)
    except ClientError as e:
        message = f"Unable to create trigger '{name}': Unable to configure feed '{qualify(feed)}': {e.message}"
        try:  # as wsk does: no trigger is left behind without its feed
            client.delete_entity("triggers", name)
        except ClientError as cleanup:
            message += f" (deleting the trigger again failed too: {cleanup.message})"
        raise e.saying(message) from e
    echo_ok(f"invoked {qualify(feed)} with id {aid}")


@trigger.command("create")
@_write_options(_feed_option, *_split_options)
def trigger_create(name: str, params: Pairs, param_files: tuple[Path, ...], annotations: Pairs,
                   annotation_files: tuple[Path, ...], feed: str | None, feed_params: Pairs, trigger_params: Pairs,
                   apihost: str | None, auth: str | None) -> None:
    """Create trigger NAME, and with --feed have the feed action set up its events."""
    with connect(apihost, auth) as client:
        _create(client, name, params, annotations, feed, param_files=param_files,
                annotation_files=annotation_files, feed_params=feed_params, trigger_params=trigger_params)
    echo_ok(f"created trigger {name}")


@trigger.command("update")
@_write_options(*_split_options)
def trigger_update(name: str, params: Pairs, param_files: tuple[Path, ...], annotations: Pairs,
                   annotation_files: tuple[Path, ...], feed_params: Pairs, trigger_params: Pairs,
                   apihost: str | None, auth: str | None) -> None:
    """Change trigger NAME (or create it); on a feed trigger -p (or -F) goes to the feed as an UPDATE."""
    with connect(apihost, auth) as client:
        done = _update(client, name, params, annotations, param_files=param_files,
                       annotation_files=annotation_files, feed_params=feed_params, trigger_params=trigger_params)
    echo_ok(f"{done} trigger {name}")


def _update(client: ApiClient, name: str, params: Pairs, annotations: Pairs, *,
            param_files: Sequence[Path] = (), annotation_files: Sequence[Path] = (), feed_params: Pairs = (),
            trigger_params: Pairs = ()) -> str:
    """``created`` (there was no such trigger) or ``updated``."""
    split = _split(params, param_files, feed_params, trigger_params)
    try:
        existing = client.get_entity("triggers", name)
    except ClientError as e:
        if e.status != 404:
            raise
        if feed_params:
            raise click.UsageError(f"there is no trigger '{name}' whose feed could take -F; create it with "
                                   "--feed first") from e
        _create(client, name, params, annotations, None, param_files=param_files,
                annotation_files=annotation_files, trigger_params=trigger_params)
        return "created"
    given_notes = merged_key_values(annotation_files, annotations, "annotation")
    feed = annotations_of(existing).get(FEED_ANNOTATION)
    if split:
        return _update_split(client, name, existing, feed, given_notes, feed_params, trigger_params)
    values = merged_values(param_files, params)
    if feed and values:
        try:
            _feed(client, str(feed), "UPDATE", _trigger_path(existing, name), values)
        except ClientError as e:
            raise ClientError(e.status, f"Unable to update trigger '{name}': Unable to configure feed "
                                        f"'{feed}': {e.message}") from e
    body: dict[str, Any] = {}
    if values and not feed:
        body["parameters"] = [{"key": k, "value": v} for k, v in values.items()]
    if given_notes:  # they replace the old ones: a feed trigger keeps its feed
        body["annotations"] = _with_feed(given_notes, str(feed)) if feed else given_notes
    if body or not values:
        client.put_entity("triggers", name, body, overwrite=True)
    return "updated"


def _update_split(client: ApiClient, name: str, existing: Any, feed: Any, given_notes: list[dict[str, Any]],
                  feed_params: Pairs, trigger_params: Pairs) -> str:
    """wsk's update with -F/-T: -T replaces the trigger's own parameters, -F goes to its feed as an UPDATE."""
    if feed_params and not feed:
        raise ClientError(0, f"Unable to configure feed '{name}': this trigger does not contain a feed", exit_code=1)
    body: dict[str, Any] = {}
    own = merged_values((), trigger_params)
    if own:
        body["parameters"] = [{"key": k, "value": v} for k, v in own.items()]
    if given_notes:
        body["annotations"] = _with_feed(given_notes, str(feed)) if feed else given_notes
    if body:
        client.put_entity("triggers", name, body, overwrite=True)
    if feed and feed_params:
        try:
            _feed(client, str(feed), "UPDATE", _trigger_path(existing, name), merged_values((), feed_params))
        except ClientError as e:
            raise e.saying(f"Unable to update trigger '{name}': Unable to configure feed '{feed}': "
                           f"{e.message}") from e
    return "updated"


@trigger.command("get")
@click.argument("name")
@click.argument("field", required=False)
@click.option("--summary", "-s", is_flag=True, help="Only its name, description and parameters (* bound).")
@json_option
@connection_options
def trigger_get(name: str, field: str | None, summary: bool, as_json: bool, apihost: str | None,
                auth: str | None) -> None:
    """Print trigger NAME as JSON, with the rules it drives (or only its FIELD); a feed trigger's feed is asked
    for its configuration instead (READ), as wsk does."""
    refuse_with_json(as_json, summary=summary)
    with connect(apihost, auth) as client:
        entity = client.get_entity("triggers", name)
        feed = annotations_of(entity).get(FEED_ANNOTATION)
        if feed and not (summary or field or as_json) and _echo_read(client, str(feed), _trigger_path(entity, name)):
            return
    if summary:
        for line in trigger_summary(entity):
            click.echo(line)
    else:
        echo_entity("trigger", name, entity, field, as_json)


def _echo_read(client: ApiClient, feed: str, trigger: str) -> bool:
    """Invoke ``feed`` with ``READ`` for ``trigger`` and print the activation as wsk does; False (with a warning on
    stderr) when the feed could not answer, so that the trigger itself is printed instead."""
    payload = {"lifecycleEvent": "READ", "triggerName": trigger, "authKey": client.auth}
    try:
        answer = client.invoke_action(feed, payload, blocking=True)
    except ClientError as e:
        click.echo(f"warning: the feed {feed} could not be read ({e.message}); the trigger itself:", err=True)
        return False
    if not isinstance(answer, dict) or set(answer) == {"activationId"}:  # still running when the wait ran out
        click.echo(f"warning: the feed {feed} did not answer in time; the trigger itself:", err=True)
        return False
    echo_ok(f"invoked {feed} with id {answer.get('activationId', '')}")
    click.echo(json.dumps(answer, indent=2))
    return True


@trigger.command("list")
@click.argument("namespace", metavar="[/NAMESPACE]", required=False)
@list_options
@name_sort_option
@json_option
@connection_options
def trigger_list(namespace: str | None, limit: int, skip: int, name_sort: bool, as_json: bool,
                 apihost: str | None, auth: str | None) -> None:
    """List the triggers of the namespace."""
    with connect(apihost, auth) as client:
        triggers = client.list_entities("triggers", namespace_argument(namespace), limit, skip)
    if as_json:
        echo_json(triggers)
        return
    rows = [[full_name(t), visibility(t), annotations_of(t).get(FEED_ANNOTATION, "")]
            for t in (name_sorted("triggers", triggers) if name_sort else triggers)]
    echo_listing("triggers", ["NAME", "VISIBILITY", "FEED"], rows)


@trigger.command("delete")
@click.argument("name")
@connection_options
def trigger_delete(name: str, apihost: str | None, auth: str | None) -> None:
    """Delete trigger NAME; a feed trigger's feed is told (DELETE) first. Its rules stay, inactive."""
    with connect(apihost, auth) as client:
        existing = client.get_entity("triggers", name)
        feed = annotations_of(existing).get(FEED_ANNOTATION)
        if feed:
            try:
                _feed(client, str(feed), "DELETE", _trigger_path(existing, name), {})
            except ClientError as e:  # as wsk: the trigger goes anyway, or it could never be deleted
                click.echo(f"warning: the feed {feed} failed to delete its part: {e.message}", err=True)
        client.delete_entity("triggers", name)
    echo_ok(f"deleted trigger {name}")


@trigger.command("fire")
@click.argument("name")
@param_option
@param_file_option
@connection_options
def trigger_fire(name: str, params: Pairs, param_files: tuple[Path, ...], apihost: str | None,
                 auth: str | None) -> None:
    """Fire trigger NAME with the -p parameters as its payload; print the trigger activation's id."""
    with connect(apihost, auth) as client:
        activation_id = client.fire_trigger(name, merged_values(param_files, params))
    if activation_id is None:
        echo_ok(f"triggered {qualify(name)}, but it has no active rule: nothing ran")
    else:
        echo_ok(f"triggered {qualify(name)} with id {activation_id}")
