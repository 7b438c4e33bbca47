"""``squall flower``: Flower on the same broker as the controllers and invokers, with basic auth always on."""

from __future__ import annotations

import click

from config import Settings

INSTALL_HINT = "Flower is not installed: pip install 'squall[flower]'"


def flower_argv(settings: Settings) -> list[str]:
    """Celery's command line for Flower under these settings (the password never reaches a process list)."""
    f = settings.flower
    if not f.basic_auth:
        raise click.UsageError("set SQUALL_FLOWER_BASIC_AUTH=user:password: Flower can revoke tasks and "
                               "shut workers down, so squall flower never runs without authentication")
    return [
        "flower",
        f"--address={f.host}",
        f"--port={f.port}",
        f"--basic-auth={f.basic_auth}",
        # Flower turns task events on in every worker while it runs; with events off (benchmarks) it
        # leaves them off and shows workers only.
        f"--enable-events={settings.broker.task_events}",
        "--auto-refresh=True",
    ]


def run_flower(settings: Settings) -> None:
    """Blocks until Flower stops."""
    try:
        import flower  # noqa: F401  (present: Celery finds the flower command through its entry point)
    except ImportError as e:
        raise click.ClickException(INSTALL_HINT) from e
    from tasks.celery_app import make_celery

    make_celery(settings).start(argv=flower_argv(settings))
