"""``squall activation ...``: list, get, logs, result and poll activations, like ``wsk activation``, over HTTP only.

``--last`` (``-l``) on get, logs and result takes the namespace's newest activation, as wsk: it lists one
activation, whatever action ran it; a NAME is not a filter (wsk refuses the extra argument too).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import click

from app.cli import client_extra
from app.cli.client import ApiClient, ClientError
from app.cli.output import echo_entity, json_option, refuse_with_json
from app.cli.poll import Poller, activation_lines, back_seconds, start_ms
from app.cli.verbkit import annotations_of, connect, connection_options, echo_json, echo_listing, list_options

STATUS_NAMES = {0: "success", 1: "application error", 2: "developer error", 3: "internal error"}
"""``statusCode`` as ``wsk activation list`` names it."""
LOG_PREFIX = re.compile(r"\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-6]\d:[0-6]\d\.\d+Z( *(stdout|stderr):)?\s(.*)")
"""wsk's ``--strip``: a log line's timestamp and stream, before the text (``(.*)``)."""

_last_option = click.option("--last", "-l", "last", is_flag=True,
                            help="The newest activation of the namespace (in place of ACTIVATION_ID).")


@click.group()
def activation() -> None:
    """List, get, poll and read the logs and results of activations (like ``wsk activation``)."""


def strip_log(line: str) -> str:
    """A log line without its timestamp and stream (``--strip``); a line of another shape stays whole."""
    match = LOG_PREFIX.search(line)
    return match.group(3) if match and match.group(3) else line


def newest_id(client: ApiClient) -> str:
    """The id of the namespace's newest activation (``--last``)."""
    records = client_extra.list_activations(client, limit=1)
    if not isinstance(records, list) or not records or not isinstance(records[0], dict):
        raise click.ClickException("Activation list does not contain any activations.")
    return str(records[0].get("activationId", ""))


def split_id_and_field(args: tuple[str, ...], last: bool) -> tuple[str | None, str | None]:
    """``get``'s arguments: ``ID [FIELD]``, or with ``--last`` only ``[FIELD]``."""
    most = 1 if last else 2
    if not last and not args:
        raise click.UsageError("Invalid argument(s). An activation ID is required.")
    if len(args) > most:
        raise click.UsageError(f"Invalid argument(s): {', '.join(args[most:])}. "
                               + ("--last takes no ACTIVATION_ID." if last else "An activation ID is required."))
    if last:
        return None, (args[0] if args else None)
    return args[0], (args[1] if len(args) > 1 else None)


def _one_id(activation_id: str | None, last: bool) -> None:
    """``logs``/``result``: exactly one of ACTIVATION_ID and ``--last``."""
    if last and activation_id:
        raise click.UsageError(f"Invalid argument(s): {activation_id}. --last takes the newest activation of the "
                               "namespace; it takes no ACTIVATION_ID (nor an action name).")
    if not last and not activation_id:
        raise click.UsageError("Invalid argument(s). An activation ID is required.")


def summary_head(record: dict[str, Any]) -> str:
    """``activation get --summary``'s first line: name, status and end time (local time, as wsk prints it)."""
    raw = record.get("response")
    response: dict[str, Any] = raw if isinstance(raw, dict) else {}
    end = record.get("end")
    when = datetime.fromtimestamp(end // 1000, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S %z %Z") \
        if isinstance(end, int) else ""
    return (f"activation result for '/{record.get('namespace', '')}/{record.get('name', '')}' "
            f"({response.get('status', '')} at {when})")


@activation.command("get")
@click.argument("args", nargs=-1, metavar="(ACTIVATION_ID | --last) [FIELD]")
@_last_option
@click.option("--summary", "-s", is_flag=True, help="Only the name, status, end time and result.")
@click.option("--logs", "-g", "logs_only", is_flag=True, help="Only the logs, without timestamps and streams.")
@json_option
@connection_options
def activation_get(args: tuple[str, ...], last: bool, summary: bool, logs_only: bool, as_json: bool,
                   apihost: str | None, auth: str | None) -> None:
    """Print activation ACTIVATION_ID (or the newest, --last) as JSON, or only its FIELD (e.g. response)."""
    refuse_with_json(as_json, summary=summary, logs=logs_only)
    activation_id, field = split_id_and_field(args, last)
    with connect(apihost, auth) as client:
        activation_id = activation_id or newest_id(client)
        record = client.get_activation(activation_id)
    if summary:
        click.echo(summary_head(record))
        echo_json((record.get("response") or {}).get("result"))
    elif logs_only:
        for line in record.get("logs") or []:
            click.echo(strip_log(str(line)))
    else:
        echo_entity("activation", activation_id, record, field, as_json)


def _list_rows(records: list[Any]) -> list[list[Any]]:
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
    return rows


@activation.command("list")
@click.argument("name", required=False)
@list_options
@click.option("--full", "-f", is_flag=True, help="Each activation in full (JSON), logs and result included.")
@click.option("--since", type=click.IntRange(min=0), default=None, metavar="EPOCH_MS",
              help="Only activations that started at or after this time (ms since 1970).")
@click.option("--upto", type=click.IntRange(min=0), default=None, metavar="EPOCH_MS",
              help="Only activations that started at or before this time (ms since 1970).")
@json_option
@connection_options
def activation_list(name: str | None, limit: int, skip: int, full: bool, since: int | None, upto: int | None,
                    as_json: bool, apihost: str | None, auth: str | None) -> None:
    """List recent activations, newest first (of action NAME if given)."""
    with connect(apihost, auth) as client:
        records = client_extra.list_activations(client, name=name, since=since, upto=upto, limit=limit, skip=skip,
                                                docs=full)
    if as_json:
        echo_json(records)
    elif full:
        click.echo("activations")
        for record in records:
            echo_json(record)
    else:
        echo_listing("activations", ["DATETIME (UTC)", "ACTIVATION ID", "KIND", "DURATION", "STATUS", "ENTITY"],
                     _list_rows(records))


@activation.command("logs")
@click.argument("activation_id", required=False)
@_last_option
@click.option("--strip", "-r", is_flag=True, help="Without each line's timestamp and stream.")
@json_option
@connection_options
def activation_logs(activation_id: str | None, last: bool, strip: bool, as_json: bool, apihost: str | None,
                    auth: str | None) -> None:
    """Print the log lines of ACTIVATION_ID (or of the newest activation, --last)."""
    refuse_with_json(as_json, strip=strip)
    _one_id(activation_id, last)
    with connect(apihost, auth) as client:
        logs = client.activation_logs(activation_id or newest_id(client))
    if as_json:
        echo_json(logs)
        return
    for line in (logs.get("logs") if isinstance(logs, dict) else None) or []:
        click.echo(strip_log(str(line)) if strip else line)


@activation.command("result")
@click.argument("activation_id", required=False)
@_last_option
@json_option
@connection_options
def activation_result(activation_id: str | None, last: bool, as_json: bool, apihost: str | None,
                      auth: str | None) -> None:
    """Print the result of ACTIVATION_ID (or of the newest activation, --last) as JSON (--json: the same)."""
    _one_id(activation_id, last)
    with connect(apihost, auth) as client:
        outcome = client.activation_result(activation_id or newest_id(client))
    echo_json(outcome.get("result", outcome) if isinstance(outcome, dict) else outcome)


@activation.command("poll")
@click.argument("name", required=False)
@click.option("--exit", "-e", "exit_after", type=click.IntRange(min=0), default=0, metavar="SECONDS",
              help="Stop polling after SECONDS seconds (default: until Ctrl-C).")
@click.option("--since-seconds", type=click.IntRange(min=0), default=0, metavar="SECONDS",
              help="Start polling for activations SECONDS seconds ago.")
@click.option("--since-minutes", type=click.IntRange(min=0), default=0, metavar="MINUTES",
              help="Start polling for activations MINUTES minutes ago.")
@click.option("--since-hours", type=click.IntRange(min=0), default=0, metavar="HOURS",
              help="Start polling for activations HOURS hours ago.")
@click.option("--since-days", type=click.IntRange(min=0), default=0, metavar="DAYS",
              help="Start polling for activations DAYS days ago.")
@connection_options
def activation_poll(name: str | None, exit_after: int, since_seconds: int, since_minutes: int, since_hours: int,
                    since_days: int, apihost: str | None, auth: str | None) -> None:
    """Print the logs of new activations (of action NAME if given) as they land, until Ctrl-C (or --exit)."""
    back_s = back_seconds(since_seconds, since_minutes, since_hours, since_days)
    try:
        with connect(apihost, auth) as client:
            newest = None
            if not back_s:
                records = client_extra.list_activations(client, limit=1)
                newest = records[0].get("start") if isinstance(records, list) and records else None
            poller = Poller(
                fetch=lambda since: client_extra.list_activations(client, name=name, since=since, limit=0,
                                                                  docs=True),
                show=_show, since_ms=start_ms(int(time.time() * 1000), back_s,
                                              newest if isinstance(newest, int) else None))
            click.echo("Enter Ctrl-c to exit.")
            click.echo("Polling for activation logs")
            poller.run(exit_after, on_error=_warn, errors=(ClientError,))
    except KeyboardInterrupt:  # Ctrl-C is how a poll ends: a clean stop, exit 0 (wsk exits 1)
        click.echo("Poll terminated")


def _show(record: dict[str, Any]) -> None:
    for line in activation_lines(record):
        click.echo(line)
    echo_json(record.get("logs") or [])


def _warn(error: Exception) -> None:
    message = error.message if isinstance(error, ClientError) else str(error)
    click.echo(f"warning: polling failed, trying again: {message}", err=True)
