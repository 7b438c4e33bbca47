"""``squall rule ...``: rules from a trigger to an action, like ``wsk rule``, over HTTP only."""

from __future__ import annotations

from typing import Any

import click

from app.cli.output import echo_entity, json_option, name_sort_option, name_sorted, refuse_with_json
from app.cli.summaries import rule_summary
from app.cli.verbkit import (
    connect,
    connection_options,
    echo_json,
    echo_listing,
    echo_ok,
    full_name,
    list_options,
    namespace_argument,
    qualify,
)


def _path(ref: Any) -> str:
    """A rule's ``{"path": "ns[/pkg]", "name": "x"}`` as ``/ns[/pkg]/x``."""
    return f"/{ref.get('path', '')}/{ref.get('name', '')}" if isinstance(ref, dict) else str(ref or "")


@click.group()
def rule() -> None:
    """Create, enable, disable, get, list and delete rules (like ``wsk rule``)."""


def _put(name: str, trigger: str, action: str, overwrite: bool, apihost: str | None, auth: str | None) -> None:
    # wsk qualifies both names (a bare name means /_/name); the server resolves "_" to the caller's namespace
    body = {"trigger": qualify(trigger), "action": qualify(action)}
    with connect(apihost, auth) as client:
        client.put_entity("rules", name, body, overwrite=overwrite)


@rule.command("create")
@click.argument("name")
@click.argument("trigger")
@click.argument("action")
@connection_options
def rule_create(name: str, trigger: str, action: str, apihost: str | None, auth: str | None) -> None:
    """Create rule NAME: each firing of TRIGGER invokes ACTION (``pkg/a`` or ``/ns/pkg/a`` too). Active at once."""
    _put(name, trigger, action, False, apihost, auth)
    echo_ok(f"created rule {name}")


@rule.command("update")
@click.argument("name")
@click.argument("trigger")
@click.argument("action")
@connection_options
def rule_update(name: str, trigger: str, action: str, apihost: str | None, auth: str | None) -> None:
    """Point rule NAME at TRIGGER and ACTION (or create it)."""
    _put(name, trigger, action, True, apihost, auth)
    echo_ok(f"updated rule {name}")


@rule.command("enable")
@click.argument("name")
@connection_options
def rule_enable(name: str, apihost: str | None, auth: str | None) -> None:
    """Make rule NAME active: its trigger's firings invoke its action."""
    with connect(apihost, auth) as client:
        client.set_rule_state(name, "active")
    echo_ok(f"enabled rule {name}")


@rule.command("disable")
@click.argument("name")
@connection_options
def rule_disable(name: str, apihost: str | None, auth: str | None) -> None:
    """Make rule NAME inactive."""
    with connect(apihost, auth) as client:
        client.set_rule_state(name, "inactive")
    echo_ok(f"disabled rule {name}")


@rule.command("status")
@click.argument("name")
@connection_options
def rule_status(name: str, apihost: str | None, auth: str | None) -> None:
    """Print whether rule NAME is active."""
    with connect(apihost, auth) as client:
        entity = client.get_entity("rules", name)
    echo_ok(f"rule {name} is {entity.get('status', 'unknown')}")


@rule.command("get")
@click.argument("name")
@click.argument("field", required=False)
@click.option("--summary", "-s", is_flag=True, help="Only its name and status.")
@json_option
@connection_options
def rule_get(name: str, field: str | None, summary: bool, as_json: bool, apihost: str | None,
             auth: str | None) -> None:
    """Print rule NAME as JSON, with its status (or only its FIELD)."""
    refuse_with_json(as_json, summary=summary)
    with connect(apihost, auth) as client:
        entity = client.get_entity("rules", name)
    if summary:
        for line in rule_summary(entity):
            click.echo(line)
    else:
        echo_entity("rule", name, entity, field, as_json)


@rule.command("list")
@click.argument("namespace", metavar="[/NAMESPACE]", required=False)
@list_options
@name_sort_option
@json_option
@connection_options
def rule_list(namespace: str | None, limit: int, skip: int, name_sort: bool, as_json: bool, apihost: str | None,
              auth: str | None) -> None:
    """List the rules of the namespace with their triggers and actions."""
    with connect(apihost, auth) as client:
        rules = client.list_entities("rules", namespace_argument(namespace), limit, skip)
    if as_json:
        echo_json(rules)
        return
    rows = [[full_name(r), _path(r.get("trigger")), _path(r.get("action"))]
            for r in (name_sorted("rules", rules) if name_sort else rules)]
    echo_listing("rules", ["NAME", "TRIGGER", "ACTION"], rows)


@rule.command("delete")
@click.argument("name")
@click.option("--disable", is_flag=True, help="Disable the rule first (as wsk's --disable).")
@connection_options
def rule_delete(name: str, disable: bool, apihost: str | None, auth: str | None) -> None:
    """Delete rule NAME (also after its trigger is gone)."""
    with connect(apihost, auth) as client:
        if disable:
            client.set_rule_state(name, "inactive")
        client.delete_entity("rules", name)
    echo_ok(f"deleted rule {name}")
