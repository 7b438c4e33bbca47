"""``squall standalone``: controller and invoker in one process on 127.0.0.1:3233, embedded defaults."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

import click

from app.cli.common import settings
from app.core.errors import PlatformError


@click.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path.home() / ".squall",
              show_default="~/.squall", help="The sqlite store and the spool of accepted activations.")
@click.option("--store", default="sqlite", show_default=True,
              help="sqlite (a file in the data directory), sqlite:///PATH, or couchdb://HOST:PORT.")
@click.option("--broker", help="amqp://… to run invocations through Celery (default: in-process).")
@click.option("--containers", type=click.Choice(["docker", "process"]),
              help="Where actions run (default: docker when the engine answers and has the runtime images).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=3233, show_default=True)
@click.option("--name", default="standalone", show_default=True,
              help="Invoker name: labels its containers, which it removes when it starts again.")
@click.option("--loglevel", default="INFO", show_default=True)
def standalone(data_dir: Path, store: str, broker: str | None, containers: str | None, host: str, port: int,
               name: str, loglevel: str) -> None:
    """Run the whole platform in one process (Ctrl-C or SIGTERM stops it cleanly)."""
    from app.log_format import configure_logging
    from app.standalone.options import StandaloneOptions, overrides
    from app.standalone.platform import Standalone, docker_status

    configure_logging(settings().log.format, loglevel)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per CouchDB request is noise here
    options = StandaloneOptions(data_dir.expanduser().resolve(), store, broker, containers, host, port, name)
    if containers is None:
        why_not = docker_status(settings())
        containers = "docker" if why_not is None else "process"
        if why_not:
            click.echo(f"Actions run as local sandboxed processes: {why_not}.")
    try:
        sections = overrides(options, containers)
    except PlatformError as e:
        raise click.UsageError(e.message) from e
    platform = Standalone(settings(**sections), options.data_dir, sections)
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        platform.start()
        click.echo(platform.banner())
        while not stop.wait(1.0):
            pass
        click.echo("Stopping: finishing accepted activations, removing containers…")
    except PlatformError as e:
        raise click.ClickException(e.message) from e
    except OSError as e:  # e.g. the port is taken
        raise click.ClickException(str(e)) from e
    finally:
        platform.stop()
    click.echo("Stopped.")
