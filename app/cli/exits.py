"""How a ``squall`` command ends: wsk's exit codes, and ``error: ...`` on stderr as wsk prints it.

wsk (openwhisk-client-go ``whisk/wskerror.go`` and ``whisk/client.go``) exits 0 on success, 1 on a general or
usage error, 3 when the server could not be reached, and ``status - 256`` for an HTTP error, which the OS keeps
as its low byte: 404 → 148, 409 → 153, 401 → 145, 502 (a failed blocking invoke) → 246.
"""

from __future__ import annotations

from typing import IO, Any

import click

EXIT_OK = 0
EXIT_GENERAL = 1
EXIT_USAGE = 1
"""wsk exits 1 on a bad flag or argument (click's own convention is 2)."""
EXIT_NETWORK = 3
EXIT_TIMED_OUT = 202
"""wsk's code for a blocking invoke whose answer did not come in time (the activation goes on)."""


def http_exit_code(status: int) -> int:
    """wsk's ``os.Exit(status - 256)``, as the OS reports it."""
    return (status - 256) & 0xFF


def _exit_with(error: click.ClickException, code: int) -> None:
    # click's stubs call ``exit_code`` a class variable, but click reads it from the instance it catches
    error.exit_code = code  # type: ignore[misc]


class CommandFailed(click.ClickException):
    """A command failed for a reason other than its usage: ``error: <message>`` on stderr and ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_GENERAL) -> None:
        super().__init__(message)
        _exit_with(self, exit_code)

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", file=file, err=file is None)


class WskGroup(click.Group):
    """The root group: usage errors exit 1 as in wsk, and any other failure prints ``error: ...``."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as e:  # a bad flag before the command
            _exit_with(e, EXIT_USAGE)
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            _exit_with(e, EXIT_USAGE)
            raise
        except CommandFailed:
            raise
        except click.ClickException as e:
            raise CommandFailed(e.format_message(), e.exit_code) from e
