"""A 40 MB zip action (a Python virtualenv) through the real stack: create, get with and without its code, invoke,
update and invoke again (docs/production.md, "Large action code"). Its code is far past CouchDB's default 8 MB
document limit, so the store keeps it as an attachment and the invoker reads it by revision.

The figures the run prints (create time, the code=false answer's size, first and warm invoke) are for the docs;
nothing here asserts a speed.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.store.couch_client import CouchClient
from config.settings import InvokerSettings
from tests.integration.conftest import Stack
from tests.integration.helpers import invoke
from tests.integration.test_standalone import Standalone
from workers.factories.process import process_root

pytestmark = pytest.mark.integration

PADDING_BYTES = 40 * 1_048_576
"""Random bytes inside the virtualenv: they do not compress, so the zip really is this large."""

MAIN = ("import hashlib, os, importlib.metadata\nimport click\n\n"
        "def handler(args):\n"
        "    blob = os.path.join(os.path.dirname(click.__file__), '..', 'padding.bin')\n"
        "    digest = None\n"
        "    if args.get('hash'):\n"
        "        with open(blob, 'rb') as f:\n"
        "            digest = hashlib.sha256(f.read()).hexdigest()\n"
        "    return {'version': VERSION, 'click': importlib.metadata.version('click'),\n"
        "            'venv': '/virtualenv/' in click.__file__, 'padding': digest}\n")


def virtualenv_zip(folder: Path, padding: Path, version: str) -> Path:
    """A zip laid out as OpenWhisk documents it: ``__main__.py`` at the top, a real virtualenv beside it holding
    click (copied from our own environment as pip would have installed it) and ``padding`` in its site-packages.
    Written to a file: the test holds no copy of it in memory."""
    action = folder / version
    action.mkdir()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(action / "virtualenv")], check=True)
    (site,) = (action / "virtualenv" / "lib").glob("python3*/site-packages")
    dist = importlib.metadata.distribution("click")
    for file in dist.files or ():
        source = Path(str(dist.locate_file(file)))
        if file.parts[0] in ("click", f"click-{dist.version}.dist-info") and source.is_file() \
                and "__pycache__" not in file.parts:
            (site / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, site / file)
    (action / "__main__.py").write_text(f"VERSION = {version!r}\n" + MAIN)
    archive_path = folder / f"{version}.zip"
    with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_STORED) as archive:  # stored: random bytes do not deflate
        for path in sorted(action.rglob("*")):
            if path.is_file() and not path.is_symlink():  # a venv's bin/python is a symlink
                archive.write(path, path.relative_to(action).as_posix())
        archive.write(padding, f"{site.relative_to(action).as_posix()}/padding.bin")
    return archive_path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


CHUNK = 3 * 1_048_576  # a multiple of 3: the base64 of the chunks, joined, is the base64 of the whole


def put(api: httpx.Client, name: str, archive: Path, overwrite: bool = False) -> tuple[int, float]:
    """PUT the action with ``archive`` as its code, the JSON body streamed (base64 a chunk at a time) and the
    answer (which carries the code back, as OpenWhisk's does) read and dropped; returns the status and seconds."""
    prefix = b'{"exec": {"kind": "python:default", "main": "handler", "code": "'
    suffix = b'"}, "limits": {"memory": 512}}'
    size = archive.stat().st_size

    def body() -> Iterator[bytes]:
        yield prefix
        with archive.open("rb") as file:
            while chunk := file.read(CHUNK):
                yield base64.b64encode(chunk)
        yield suffix

    length = len(prefix) + (size + 2) // 3 * 4 + len(suffix)
    started = time.monotonic()
    with api.stream("PUT", f"/api/v1/namespaces/_/actions/{name}", content=body(),
                    params={"overwrite": "true"} if overwrite else None,
                    headers={"Content-Type": "application/json", "Content-Length": str(length)}) as response:
        chunks = response.iter_bytes()
        head = next(chunks, b"")[:2000]
        for _ in chunks:
            pass
    elapsed = time.monotonic() - started
    assert response.status_code == 200, head
    return response.status_code, elapsed


def timed_invoke(api: httpx.Client, name: str, **payload: object) -> tuple[dict[str, object], float]:
    started = time.monotonic()
    response = invoke(api, name, payload, blocking="true", result="true")
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text[:2000]
    result: dict[str, object] = response.json()
    return result, elapsed


def test_a_40_mb_virtualenv_zip_round_trips_and_runs(api: httpx.Client, unique: str, tmp_path: Path,
                                                    stack: Stack) -> None:
    padding = tmp_path / "padding.bin"
    padding.write_bytes(random_bytes(PADDING_BYTES))
    padding_sha = sha256_of(padding)
    first = virtualenv_zip(tmp_path, padding, "v1")
    assert first.stat().st_size > PADDING_BYTES  # the zip is past 40 MB, its base64 past 53 MB
    api.timeout = httpx.Timeout(300.0)

    _, create_s = put(api, unique, first)

    without = api.get(f"/api/v1/namespaces/_/actions/{unique}", params={"code": "false"})
    assert without.status_code == 200
    assert "code" not in without.json()["exec"] and without.json()["exec"]["binary"] is True
    assert len(without.content) < 2_000

    listed = api.get("/api/v1/namespaces/_/actions", params={"limit": 200})
    assert unique in [a["name"] for a in listed.json()] and len(listed.content) < 200_000

    with_code = api.get(f"/api/v1/namespaces/_/actions/{unique}")
    assert with_code.status_code == 200
    code = json.loads(with_code.content)["exec"]["code"]
    del with_code
    assert hashlib.sha256(base64.b64decode(code)).hexdigest() == sha256_of(first)
    del code

    result, cold_s = timed_invoke(api, unique, hash=True)  # the padding is there, whole
    assert result == {"version": "v1", "click": importlib.metadata.version("click"), "venv": True,
                      "padding": padding_sha}
    warm = [timed_invoke(api, unique) for _ in range(3)]
    result = {**result, "padding": None}
    assert all(r == result for r, _ in warm)

    second = virtualenv_zip(tmp_path, padding, "v2")
    _, update_s = put(api, unique, second, overwrite=True)
    again, again_s = timed_invoke(api, unique)
    assert again == {**result, "version": "v2"}  # the new revision's code, not the cached one

    assert api.delete(f"/api/v1/namespaces/_/actions/{unique}").status_code == 200
    assert api.get(f"/api/v1/namespaces/_/actions/{unique}").status_code == 404
    compact(stack)
    print(f"\nlarge code: zip {second.stat().st_size:,} bytes; create {create_s:.2f} s; update {update_s:.2f} s; "
          f"GET code=false {len(without.content)} bytes; invoke first {cold_s:.2f} s, warm "
          f"{', '.join(f'{s * 1000:.0f} ms' for _, s in warm)}; after the update {again_s:.2f} s")


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[Standalone]:
    """``./standalone`` (its SQLite store, an invoker in its process, Docker) storing code over 1,000 characters
    beside the documents."""
    instance = Standalone(tmp_path / "data", "docker", env={"SQUALL_LIMITS_CODE_INLINE_BYTES": "1000"})
    yield instance
    if instance.process is not None and instance.process.poll() is None:
        instance.stop()
    shutil.rmtree(process_root(InvokerSettings(name=instance.name)), ignore_errors=True)


def test_standalone_keeps_attached_code_as_sqlite_blobs_and_runs_it(standalone: Standalone, tmp_path: Path) -> None:
    padding = tmp_path / "padding.bin"
    padding.write_bytes(random_bytes(200_000))
    standalone.start()
    with standalone.client() as api:
        put(api, "venv", virtualenv_zip(tmp_path, padding, "v1"))
        without = api.get("/api/v1/namespaces/_/actions/venv", params={"code": "false"})
        assert "code" not in without.json()["exec"] and len(without.content) < 2_000
        first, _ = timed_invoke(api, "venv", hash=True)
        assert first["version"] == "v1" and first["venv"] is True and first["padding"] == sha256_of(padding)
        put(api, "venv", virtualenv_zip(tmp_path, padding, "v2"), overwrite=True)
        again, _ = timed_invoke(api, "venv")
        assert again == {**first, "version": "v2", "padding": None}
    store = sqlite3.connect(standalone.data_dir / "squall.db")
    try:
        (count, size), = store.execute("SELECT COUNT(*), SUM(LENGTH(data)) FROM attachments "
                                       "WHERE doc_id = 'guest/venv'").fetchall()
    finally:
        store.close()
    assert count == 1 and size > 200_000  # v2's zip alone: v1's went with the update


def compact(stack: Stack) -> None:
    """Let the session's CouchDB-API server drop the earlier revisions' code (80 MB in pouchdb-server's memory)."""
    client = CouchClient(stack.env["SQUALL_COUCHDB_URL"], timeout_s=60.0)
    try:
        client.request("POST", f"/{stack.env['SQUALL_COUCHDB_PREFIX']}whisks/_compact", body={})
    finally:
        client.close()


def random_bytes(size: int) -> bytes:
    with open("/dev/urandom", "rb") as source:
        return source.read(size)
