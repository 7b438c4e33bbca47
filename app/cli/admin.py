"""``squall admin``: subjects, namespaces and keys, straight against the store."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from app.cli.common import settings
from app.core.errors import PlatformError
from app.core.limits import parse_overrides
from app.core.services import IdentityService

if TYPE_CHECKING:
    from celery import Celery

    from app.core.invokers import InvokerStatus


@contextmanager
def _identities() -> Iterator[IdentityService]:
    with _store() as store:
        yield IdentityService(store, cache_seconds=0)


@contextmanager
def _store() -> Iterator[Any]:
    from app.store import open_store

    s = settings()
    where = f"CouchDB at {s.couchdb.url}" if s.store.kind == "couchdb" else f"{s.store.kind} store"
    try:
        store = open_store(s)
    except PlatformError as e:
        raise click.ClickException(f"{e.message} ({where})") from e
    try:
        yield store
    except PlatformError as e:
        raise click.ClickException(f"{e.message} ({where})") from e
    finally:
        store.close()


@click.group()
def admin() -> None:
    """Administer subjects, namespaces and keys; see the invokers."""


@admin.command()
def seed() -> None:
    """Create guest and whisk.system with OpenWhisk's well-known keys (skips those present)."""
    with _identities() as ids:
        created = ids.seed()
    click.echo(f"created: {', '.join(created)}" if created else "already seeded")


@admin.group()
def user() -> None:
    """Subjects and their keys."""


@user.command("create")
@click.argument("namespace")
@click.option("--subject", help="Subject name (default: the namespace).")
@click.option("--auth", help="Use this uuid:key instead of generating one.")
def create(namespace: str, subject: str | None, auth: str | None) -> None:
    """Create NAMESPACE and print its uuid:key (shown once; only a hash is stored)."""
    with _identities() as ids:
        click.echo(ids.create(namespace, subject, auth))


@user.command("list")
def list_users() -> None:
    with _identities() as ids:
        for s in ids.list():
            flags = " (blocked)" if s.blocked else ""
            for n in s.namespaces:
                click.echo(f"{s.name}\t{n.namespace}\t{n.uuid}{flags}")


@user.command("delete")
@click.argument("subject")
def delete(subject: str) -> None:
    with _identities() as ids:
        ids.delete(subject)
    click.echo(f"deleted {subject}")


@user.command("block")
@click.argument("subject")
def block(subject: str) -> None:
    with _identities() as ids:
        ids.set_blocked(subject, True)
    click.echo(f"blocked {subject}")


@user.command("unblock")
@click.argument("subject")
def unblock(subject: str) -> None:
    with _identities() as ids:
        ids.set_blocked(subject, False)
    click.echo(f"unblocked {subject}")


@admin.group()
def catalog() -> None:
    """The system catalog: public packages in whisk.system."""


@catalog.command("install")
def install_catalog() -> None:
    """Install or refresh /whisk.system/utils and /whisk.system/alarms (idempotent). On a store where no subject
    owns whisk.system yet, it makes one, with a random key that is not shown (``admin seed`` gives it OpenWhisk's
    well-known key instead)."""
    from app.catalog import CatalogInstaller, catalog_owner
    from app.store import open_store
    from app.wiring import build_actions_and_packages

    s = settings()
    try:
        store = open_store(s)
    except PlatformError as e:
        raise click.ClickException(f"{e.message} (store: {s.store.kind})") from e
    try:
        identity, created = catalog_owner(IdentityService(store, cache_seconds=0))
        actions, packages = build_actions_and_packages(s, store)
        written = CatalogInstaller(packages, actions, identity, s.runtimes.catalog_path).install()
    except PlatformError as e:
        raise click.ClickException(f"{e.message} (store: {s.store.kind})") from e
    finally:
        store.close()
    if created:
        click.echo(f"created subject {identity.subject} for namespace {identity.namespace} (random key, not shown)")
    click.echo("\n".join(f"installed {name}" for name in written) if written else "catalog is up to date")


@admin.group()
def operator() -> None:
    """The operator account of the admin pages."""


@operator.command("hash-password")
@click.password_option(prompt="Operator password")
def hash_password(password: str) -> None:
    """Print the hash to put in SQUALL_ADMIN_OPERATOR_PASSWORD_HASH (or [admin] operator_password_hash)."""
    from werkzeug.security import generate_password_hash

    click.echo(generate_password_hash(password))  # werkzeug's default: scrypt, salted


@admin.group()
def limits() -> None:
    """A namespace's throttles (like ``wskadmin limits``): overrides of the deployment's [limits]."""


@limits.command("set")
@click.argument("namespace")
@click.option("--invocations-per-minute", type=click.IntRange(min=0), default=None)
@click.option("--fires-per-minute", type=click.IntRange(min=0), default=None)
@click.option("--concurrent-invocations", type=click.IntRange(min=0), default=None,
              help="Activations the namespace may have in flight at once (0 refuses every invoke).")
@click.option("--activations-keep-days", type=click.IntRange(min=0), default=None,
              help="Days its activation records are kept (0: for ever); left out, retention.keep_days.")
@click.option("--store-activations", type=click.BOOL, default=None, metavar="true|false",
              help="false: keep no activation records (blocking callers still get results), as OpenWhisk's "
                   "storeActivations.")
def limits_set(namespace: str, invocations_per_minute: int | None, fires_per_minute: int | None,
               concurrent_invocations: int | None, activations_keep_days: int | None,
               store_activations: bool | None) -> None:
    """Replace NAMESPACE's overrides (an option left out falls back to the deployment's limit)."""
    given = {"invocationsPerMinute": invocations_per_minute, "firesPerMinute": fires_per_minute,
             "concurrentInvocations": concurrent_invocations, "activationsKeepDays": activations_keep_days,
             "storeActivations": store_activations}
    with _store() as store:
        store.put_limits(namespace, parse_overrides(given))
    click.echo(f"limits of {namespace} set")


@limits.command("get")
@click.argument("namespace")
def limits_get(namespace: str) -> None:
    """NAMESPACE's overrides as JSON ({} when it runs under the deployment's limits)."""
    with _store() as store:
        click.echo(json.dumps(store.get_limits(namespace), sort_keys=True))


@admin.group()
def retention() -> None:
    """Activation records past their retention (retention.keep_days, or a namespace's --activations-keep-days)."""


@retention.command("run")
def retention_run() -> None:
    """Delete now what the scheduler's next sweep would: every record older than its namespace keeps them."""
    from app.scheduler.retention import retention_service

    s = settings()
    with _store() as store:
        def progress(namespace: str, deleted: int) -> None:
            click.echo(f"  {namespace}: {deleted} deleted so far", err=True)

        report = retention_service(s, store).sweep(progress=progress)
    for namespace, deleted in sorted(report.deleted.items()):
        click.echo(f"{namespace}: {deleted} deleted")
    for namespace in report.skipped:
        click.echo(f"{namespace}: skipped (its limits could not be read; run again)")
    click.echo(f"{report.total} records deleted in {report.batches} batches, {report.seconds:.1f} s")


@admin.command("invokers")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (one object per invoker) for scripts.")
def invokers(as_json: bool) -> None:
    """Every invoker of this deployment: health, capacity, load, containers and queue.

    Read from the invoker registry in Redis (what the invokers announce every SQUALL_INVOKER_HEARTBEAT_S) and
    from the broker (queue lengths), with the settings of a controller of the deployment: the same
    SQUALL_RESULT_BACKEND, SQUALL_BROKER_URL and SQUALL_COUCHDB_PREFIX.
    """
    from kombu.utils.url import maybe_sanitize_url

    from app.core.entities import now_ms
    from app.core.errors import StoreError
    from app.wiring import invoker_registry, shared_state
    from tasks.celery_app import make_celery
    from tasks.monitor import CeleryInvokerMonitor

    s = settings()
    backend = maybe_sanitize_url(s.broker.result_backend)
    state = shared_state(s)
    if not state.shared:
        raise click.ClickException(
            f"no invoker registry: the result backend is {backend}, not Redis, so invokers announce themselves "
            "nowhere and each controller sends work to a fixed invoker. Set SQUALL_RESULT_BACKEND to the Redis "
            "URL the controllers and invokers use (redis://HOST:6379/0).")
    registry = invoker_registry(s, state)
    try:
        try:
            registry.reports()  # the monitor shows an unreadable registry as "no invokers": say why instead
        except StoreError as e:
            why = str(e).rstrip(".")
            raise click.ClickException(f"{why}. Is Redis running at {backend}? Start it, or set SQUALL_RESULT_BACKEND "
                                       "to the Redis the controllers and invokers use.") from e
        celery = make_celery(s)
        try:
            _broker_reachable(celery, maybe_sanitize_url(s.broker.url))
            found = CeleryInvokerMonitor(celery, registry, s.invoker.queues).invokers()
        finally:
            celery.close()
    finally:
        registry.close()
    now = now_ms()
    if as_json:
        click.echo(json.dumps([_invoker_json(i, now) for i in found], indent=2))
        return
    if not found:
        click.echo(f"No invoker of this deployment (database prefix {s.couchdb.prefix!r}) has announced itself in "
                   f"{backend}. Start one with `squall invoker` and these settings.")
        return
    from app.cli.verbkit import table

    click.echo(table(_INVOKER_HEADERS, [_invoker_row(i, now) for i in found]))
    if not all(i.configured for i in found):
        click.echo("\n* not in SQUALL_INVOKER_QUEUES (the allow-list of these settings): controllers with them "
                   "place no work on it.")


_INVOKER_HEADERS = ("INVOKER", "HOST", "HEALTH", "CAPACITY", "IN FLIGHT", "MEMORY IN USE", "CONTAINERS",
                    "QUEUED", "PLACED/MIN")


def _broker_reachable(celery: Celery, broker: str) -> None:
    """Fail with what to do when the broker does not answer (the queue lengths come from it)."""
    try:
        with celery.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=3)
    except Exception as e:  # kombu raises the transport's own errors: any of them means unreachable
        raise click.ClickException(
            f"cannot reach the broker at {broker} ({e}). Is RabbitMQ running? Start it, or set SQUALL_BROKER_URL "
            "to the broker the controllers and invokers use.") from e


def _seen_s(status: InvokerStatus, now: int) -> float | None:
    """Seconds since the invoker last announced itself; None when the registry no longer holds its report."""
    return max(now - status.seen_ms, 0) / 1000 if status.seen_ms else None


def _invoker_json(status: InvokerStatus, now: int) -> dict[str, Any]:
    seen = _seen_s(status, now)
    return {**dataclasses.asdict(status), "seen_s": None if seen is None else round(seen, 1)}


def _invoker_row(status: InvokerStatus, now: int) -> Sequence[str]:
    seen = _seen_s(status, now)
    health = ("up" if status.healthy else "down") + ("" if seen is None else f", seen {seen:.1f} s ago")
    known = bool(status.seen_ms)
    # States with no container are left out here (--json has them all).
    containers = ", ".join(f"{state} {n}" for state, n in status.containers.items() if n) or "-"
    return (
        status.name + ("" if status.configured else " *"),
        status.hostname or "-",
        health,
        f"{status.capacity_mb} MB, {status.threads} threads" if known else "-",
        f"{status.in_flight}/{status.threads}" if known else "-",
        f"{status.used_mb}/{status.capacity_mb} MB" if known else "-",
        containers,
        "?" if status.queued is None else str(status.queued),
        str(status.placements_per_minute),
    )
