"""Files only this user may read: the sqlite store and the standalone spool (every tenant's code, parameters
and keys, and the admin's session secret), and what the process factory says it does not confine."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from app.core.entities import ActivationMessage
from app.standalone.spool import Spool
from app.store.sqlite import SqliteStore
from config.settings import InvokerSettings
from workers.factories import process
from workers.factories.cgroups import Cgroups


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture(autouse=True)
def loose_umask() -> object:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_sqlite_store_and_its_wal_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "squall.db"
    store = SqliteStore(path)
    store.setup()
    store.put_limits("ns", {"x": 1})  # a write: the -wal and -shm files exist now
    assert mode(path.parent) == 0o700
    for name in ("squall.db", "squall.db-wal", "squall.db-shm"):
        assert mode(path.with_name(name)) == 0o600, name
    store.close()


def test_an_existing_store_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "squall.db"
    SqliteStore(path).close()
    path.chmod(0o644)
    SqliteStore(path).close()
    assert mode(path) == 0o600


def test_the_spool_is_private(tmp_path: Path) -> None:
    (tmp_path / "spool" / "accepted").mkdir(parents=True, mode=0o755)  # as an earlier version left it
    (tmp_path / "spool" / "accepted" / "old.json").write_text("{}")
    spool = Spool(tmp_path / "spool")
    for folder in ("spool", "spool/accepted", "spool/started", "spool/records"):
        assert mode(tmp_path / folder) == 0o700, folder
    assert mode(tmp_path / "spool" / "accepted" / "old.json") == 0o600
    spool.keep_record({"activationId": "a1", "response": {}})
    assert mode(tmp_path / "spool" / "records" / "a1.json") == 0o600
    assert spool.claim("a2")
    spool.keep("a2", {"activationId": "a2"})
    assert mode(tmp_path / "spool" / "started" / "a2") == 0o600


def test_accepted_messages_are_private(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    message = ActivationMessage(activation_id="a3", transaction_id="t", namespace="guest", subject="guest",
                                action="guest/hello", revision="1-a", content={"secret": "x"}, blocking=False,
                                received_ms=0, api_key="uuid:key")
    spool.accept(message)
    assert mode(tmp_path / "spool" / "accepted" / "a3.json") == 0o600


def test_what_process_containers_do_not_confine_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = InvokerSettings(name="t", process_dir="/tmp/squall-t")
    monkeypatch.setattr(process.os, "geteuid", lambda: 0)
    monkeypatch.setattr(Cgroups, "unavailable", staticmethod(lambda root=None: "this host has cgroup v2"))
    isolated = process.unconfined(settings, ["the API and its admin pages at http://127.0.0.1:3233"])
    assert not any("network" in line for line in isolated)  # a namespace of their own (this host has the tools)
    assert not any("disk" in line for line in isolated)
    lines = process.unconfined(replace(settings, process_network="host"),
                               ["the API and its admin pages at http://127.0.0.1:3233"])
    assert "share this host's network" in lines[0] and "http://127.0.0.1:3233" in lines[0]
    assert "process_network is 'host'" in lines[0]
    assert "Redis, RabbitMQ, CouchDB" in lines[0]
    assert any("cgroup v2" in line and "memory" in line for line in lines)
    monkeypatch.setattr(process.os, "geteuid", lambda: 1000)
    lines = process.unconfined(settings, [])
    assert any("not root" in line and "/init or /run" in line for line in lines)
