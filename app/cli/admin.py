"""``squall admin``: subjects, namespaces and keys, straight against the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from app.cli.common import settings
from app.core.errors import PlatformError
from app.core.services import IdentityService


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
    """Administer subjects, namespaces and keys."""


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
    """Install or refresh /whisk.system/utils and /whisk.system/alarms (idempotent; needs ``admin seed``)."""
    from app.catalog import SYSTEM_NAMESPACE, CatalogInstaller
    from app.store import open_store
    from app.wiring import build_actions_and_packages

    s = settings()
    try:
        store = open_store(s)
    except PlatformError as e:
        raise click.ClickException(f"{e.message} (store: {s.store.kind})") from e
    try:
        identity = IdentityService(store, cache_seconds=0).identity_of(SYSTEM_NAMESPACE)
        actions, packages = build_actions_and_packages(s, store)
        written = CatalogInstaller(packages, actions, identity, s.runtimes.catalog_path).install()
    except PlatformError as e:
        raise click.ClickException(f"{e.message} (store: {s.store.kind})") from e
    finally:
        store.close()
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
def limits_set(namespace: str, invocations_per_minute: int | None, fires_per_minute: int | None) -> None:
    """Replace NAMESPACE's overrides (an option left out falls back to the deployment's limit)."""
    with _store() as store:
        store.put_limits(namespace, {k: v for k, v in (("invocationsPerMinute", invocations_per_minute),
                                                       ("firesPerMinute", fires_per_minute)) if v is not None})
    click.echo(f"limits of {namespace} set")


@limits.command("get")
@click.argument("namespace")
def limits_get(namespace: str) -> None:
    """NAMESPACE's overrides as JSON ({} when it runs under the deployment's limits)."""
    import json

    with _store() as store:
        click.echo(json.dumps(store.get_limits(namespace), sort_keys=True))
