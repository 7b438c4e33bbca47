"""Commands that run Squall's processes: controller, invoker, scheduler, and the runtime image build."""

from __future__ import annotations

import os
import sys
import tempfile

import click

from app.cli.common import settings


@click.command()
@click.option("--host", help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to bind (default 3233).")
@click.option("--workers", type=int, help="gunicorn worker processes.")
@click.option("--threads", type=int, help="Threads per worker (blocking invokes each hold one).")
def controller(host: str | None, port: int | None, workers: int | None, threads: int | None) -> None:
    """Run the REST API under gunicorn."""
    s = settings(controller={"host": host, "port": port, "workers": workers, "threads": threads})
    metrics_dir = multiprocess_metrics_dir()
    from app.controller.server import ControllerServer

    ControllerServer(s, metrics_dir=metrics_dir).run()


def multiprocess_metrics_dir() -> str:
    """A fresh directory where this controller's gunicorn workers count their metrics, named to prometheus_client
    (``PROMETHEUS_MULTIPROC_DIR``) before anything imports it: the library picks its multiprocess mode at import.
    One per controller, so a controller started while another drains (a rolling restart) never mixes counts."""
    if "prometheus_client" in sys.modules:  # a bug in the order of imports: the sums would miss every worker
        raise click.ClickException("prometheus_client was imported before its multiprocess directory was set")
    path = tempfile.mkdtemp(prefix="squall-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


@click.command()
@click.option("--name", help="Invoker name: its queue, worker name and container prefix (default invoker-<hostname>).")
@click.option("--threads", type=int, help="Activations run at once.")
@click.option("--metrics-port", type=int, help="Port to serve /metrics on (0: none; each invoker on a host its own).")
@click.option("--loglevel", default="INFO", show_default=True)
def invoker(name: str | None, threads: int | None, metrics_port: int | None, loglevel: str) -> None:
    """Run an invoker: a Celery worker with a pool of action containers."""
    from app.core.errors import PlatformError
    from workers.startup import run_worker

    s = settings(invoker={"name": name, "threads": threads}, metrics={"invoker_port": metrics_port})
    try:
        run_worker(s, loglevel=loglevel)
    except PlatformError as e:  # e.g. CouchDB unreachable or an unknown factory: say so, no traceback
        raise click.ClickException(f"{e.message} (CouchDB {s.couchdb.url}, factory {s.invoker.factory!r})") from e


@click.command()
@click.option("--loglevel", default="INFO", show_default=True)
def scheduler(loglevel: str) -> None:
    """Run the alarm scheduler: Celery beat over the stored alarm schedules, firing through the API."""
    from app.scheduler.loop import run_scheduler

    run_scheduler(settings(), loglevel=loglevel)


@click.command()
@click.option("--remove", is_flag=True, help="Remove the rules instead of installing them.")
@click.option("--show", is_flag=True, help="Print the iptables rules without touching anything.")
def isolate(remove: bool, show: bool) -> None:
    """Install the iptables rules that keep action containers away from the host and the services
    (idempotent; needs root). ``invoker.isolate = true`` makes each invoker do this at start."""
    from app.core.errors import PlatformError
    from app.host.firewall import forward_rules, hooks, input_rules
    from workers.factories.docker import DockerContainerFactory
    from workers.startup import containers_api_host, isolation_for

    s = settings()
    api_host, on_gateway = containers_api_host(s)
    factory = DockerContainerFactory(s.invoker, api_host, api_host_on_gateway=on_gateway)
    try:
        isolation = isolation_for(s, factory)
        if show:
            for rule in [*input_rules(isolation.plan), *forward_rules(isolation.plan)]:
                click.echo("iptables " + " ".join(rule))
            for hook in hooks(isolation.plan):
                click.echo(f"iptables -I {hook[0]} 1 " + " ".join(hook[1:]))
        elif remove:
            isolation.remove()
        else:
            isolation.install()
            click.echo(f"network {s.invoker.network} (bridge {isolation.plan.bridge}) isolated")
    except PlatformError as e:
        raise click.ClickException(e.message) from e
    finally:
        factory.close()


@click.group()
def runtimes() -> None:
    """Runtime images."""


@runtimes.command("build")
@click.option("--base", help="Base image for every Dockerfile (default: a local Debian base with python3 and "
              "nodejs, built with debootstrap if missing); 'public' builds each on its Dockerfile's own public "
              "base (python:3.11-slim-bookworm, node:18-bookworm-slim) where a registry is reachable.")
@click.option("--mirror", help="Debian mirror for debootstrap (default: the one apt uses).")
@click.option("--kinds", help="Comma-separated kinds or image tags to build (e.g. 'python:3,go:1.19'); "
              "default: every one the manifest names.")
@click.option("--missing", is_flag=True, help="Build only the images Docker does not have yet.")
def build(base: str | None, mirror: str | None, kinds: str | None, missing: bool) -> None:
    """Build the base image, then every image runtimes/manifest.json names (runtimes and the blackbox
    skeleton), showing progress. Docker's layer cache makes a rebuild of unchanged images take seconds."""
    import docker

    from app.host.images import ImageBuildError, build_runtime_images

    s = settings()

    def progress(line: str) -> None:
        click.echo(line)

    try:
        client = docker.from_env()
    except docker.errors.DockerException as e:
        raise click.ClickException(f"cannot reach Docker ({e}); start dockerd or set DOCKER_HOST") from e
    try:
        wanted = [k.strip() for k in kinds.split(",") if k.strip()] if kinds else None
        build_runtime_images(client, s.runtimes.directory, base_image=base, mirror=mirror, progress=progress,
                             kinds=wanted, missing_only=missing)
    except ImageBuildError as e:  # its messages say what to do; show them without a traceback
        raise click.ClickException(str(e)) from e
    finally:
        client.close()


@click.command()
@click.option("--host", help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to bind (default 5555).")
def flower(host: str | None, port: int | None) -> None:
    """Run Flower (Celery monitoring) against Squall's broker, behind basic auth."""
    from app.cli.flower import run_flower

    s = settings(flower={"host": host, "port": port})
    run_flower(s)
