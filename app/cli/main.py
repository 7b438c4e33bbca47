"""The ``squall`` command: server processes, administration, and wsk-style client verbs."""

from __future__ import annotations

import sys

import click

from app.cli import admin, bench, namespaces, packages, properties, rules, servers, standalone, triggers, verbs
from app.cli.exits import WskGroup
from app.cli.verbkit import global_options


@click.group(cls=WskGroup)
@global_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Squall: an OpenWhisk-compatible serverless platform.

    The client verbs read ~/.wskprops (or WSK_CONFIG_FILE) like wsk; see `squall property`. Shell completion:
    eval "$(_SQUALL_COMPLETE=bash_source squall)" (zsh_source, fish_source for those shells).
    """
    ctx.ensure_object(dict)


cli.add_command(servers.controller)
cli.add_command(servers.invoker)
cli.add_command(servers.scheduler)
cli.add_command(servers.runtimes)
cli.add_command(standalone.standalone)
cli.add_command(servers.flower)
cli.add_command(servers.isolate)
cli.add_command(admin.admin)
cli.add_command(bench.bench)
cli.add_command(properties.property_group)
for _group in [*verbs.GROUPS, packages.package, triggers.trigger, rules.rule, namespaces.namespace]:
    cli.add_command(_group)


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(cli())
