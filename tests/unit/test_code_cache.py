"""Attached action code: the pure rules (``app.core.attachments``), the invoker's byte-bounded ``CodeCache``, and
the invoker reading attached code by revision (fakes of our own ports)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from app.core import attachments
from app.core.attachments import AttachedCode
from app.core.entities import Action, ActivationMessage, Exec, new_activation_id, now_ms
from app.core.errors import NotFound
from app.core.identities import Identity
from app.core.limits import ActionLimits, LimitPolicy
from app.core.manifest import RuntimeManifest
from app.core.names import EntityPath
from app.core.requests import ActionPut, ExecPut
from app.core.services.actions import ActionService, SizeLimits
from app.state.journal import MemoryJournal
from app.store.sqlite import SqliteStore
from config.settings import InvokerSettings, Settings
from tests.fakes import DictActivationStore, DictEntityStore
from tests.unit.test_invoker import MANIFEST, FailingFactory
from workers.codecache import CodeCache
from workers.invoker import Invoker
from workers.pool import ContainerPool

pytestmark = pytest.mark.unit

LIMITS = ActionLimits(60000, 256, 10, 1)


def zip_action(data: bytes, rev: str | None = None) -> Action:
    return Action(EntityPath("guest", "big"), Exec("python:3", code=base64.b64encode(data).decode(), binary=True),
                  LIMITS, rev=rev)


# --- the rules ---------------------------------------------------------------------------------------------


def test_code_over_the_threshold_leaves_the_document_as_its_decoded_bytes():
    data = secrets.token_bytes(300)
    doc = attachments.detach(zip_action(data).to_doc(), 100)
    ref = AttachedCode.from_doc(doc["exec"]["code"])
    assert ref is not None and ref.length == 300 and ref.content_type == attachments.BINARY_TYPE
    assert doc["_attachments"] == {ref.name: {"content_type": attachments.BINARY_TYPE, "data": data}}
    assert attachments.uploads(doc) == ({ref.name: (attachments.BINARY_TYPE, data)}, [])
    assert ref.decode(data) == base64.b64encode(data).decode()


def test_code_at_the_threshold_stays_and_each_upload_gets_a_new_name():
    doc = zip_action(b"x" * 75).to_doc()  # 100 base64 characters
    assert attachments.detach(doc, 100) is doc
    first, second = (attachments.detach(zip_action(b"y" * 300).to_doc(), 100) for _ in range(2))
    assert first["exec"]["code"]["attachmentName"] != second["exec"]["code"]["attachmentName"]


def test_an_action_read_with_attached_code_keeps_it_when_stored_again_and_never_shows_the_reference():
    ref = AttachedCode("code-1", attachments.TEXT_TYPE, 5000)
    doc = {**zip_action(b"").to_doc(), "_rev": "2-a"}
    doc["exec"] = {"kind": "python:3", "code": ref.to_doc(), "binary": False}
    action = Action.from_doc(doc)
    assert action.exec.code is None and action.exec.attached == ref and action.exec.code_bytes == 5000
    assert action.to_doc()["exec"]["code"] == ref.to_doc()
    assert "code" not in action.to_api()["exec"]
    assert attachments.detach(action.to_doc(), 100)["_attachments"] == {"code-1": {"stub": True}}
    assert action.exec.with_code("text").code == "text"


def test_uploads_refuse_an_entry_with_neither_bytes_nor_a_stub():
    with pytest.raises(ValueError, match="neither bytes nor a stub"):
        attachments.uploads({"_attachments": {"x": {"data": "not bytes"}}})


@pytest.mark.parametrize(("data", "binary"), [(b"", True), (b"a", True), (b"ab", True), (b"abc", True),
                                              ("é".encode(), False)])
def test_code_bytes_is_the_stored_size(data, binary):
    code = base64.b64encode(data).decode() if binary else data.decode()
    assert Exec("python:3", code=code, binary=binary).code_bytes == len(data)


# --- the cache ---------------------------------------------------------------------------------------------


def test_cache_is_bounded_by_bytes_least_recently_used_out_first():
    cache = CodeCache(10)
    cache.put(("d", "a"), "aaaa")
    cache.put(("d", "b"), "bbbb")
    assert cache.get(("d", "a")) == "aaaa"  # now the most recent
    cache.put(("d", "c"), "cccc")
    assert cache.get(("d", "b")) is None and cache.get(("d", "a")) == "aaaa" and cache.size_bytes == 8
    cache.put(("d", "huge"), "x" * 11)  # alone over the bound: not kept, nothing evicted for it
    assert cache.get(("d", "huge")) is None and cache.size_bytes == 8
    assert (cache.hits, cache.misses) == (2, 2)


# --- the invoker -------------------------------------------------------------------------------------------


class Setup:
    def __init__(self, cache_mb: int = 1) -> None:
        settings = replace(Settings(), invoker=InvokerSettings(code_cache_mb=cache_mb))
        self.entities = DictEntityStore()
        self.invoker = Invoker(self.entities, DictActivationStore(), ContainerPool(FailingFactory(NotFound()),
                               settings.invoker), MANIFEST, settings, MemoryJournal(), retry_pauses_s=(0.0,))

    def store(self, data: bytes, rev: str) -> str:
        """Store the action as the stores do (its code beside the document); returns the attachment's name."""
        doc = attachments.detach(zip_action(data, rev).to_doc(), 100)
        new, _ = attachments.uploads(doc)
        self.entities.attachments = {("guest/big", name): blob for name, (_, blob) in new.items()}
        self.entities.docs["guest/big"] = {k: v for k, v in doc.items() if k != "_attachments"}
        return next(iter(new))

    def fetch(self, rev: str) -> Action:
        return self.invoker._fetch(ActivationMessage(
            activation_id=new_activation_id(), transaction_id="t", namespace="guest", subject="guest",
            action="guest/big", revision=rev, content={}, blocking=True, received_ms=now_ms()))


def test_invoker_reads_attached_code_once_per_revision():
    s = Setup()
    data = secrets.token_bytes(5000)
    s.store(data, "1-a")
    assert base64.b64decode(s.fetch("1-a").exec.code or "") == data
    assert base64.b64decode(s.fetch("1-a").exec.code or "") == data  # warm: neither document nor code read
    assert (s.entities.reads, s.entities.attachment_reads) == (1, 1)

    new = secrets.token_bytes(5000)
    s.store(new, "2-b")
    assert base64.b64decode(s.fetch("2-b").exec.code or "") == new  # the new revision: never the old code
    assert (s.entities.reads, s.entities.attachment_reads) == (2, 2)


def test_a_cached_revision_whose_code_is_gone_runs_the_newest():
    s = Setup(cache_mb=0)
    s.store(secrets.token_bytes(5000), "1-a")
    s.fetch("1-a")
    new = secrets.token_bytes(5000)
    s.store(new, "2-b")  # the first code went with the update
    assert base64.b64decode(s.fetch("1-a").exec.code or "") == new


def test_code_that_is_gone_for_good_counts_as_a_missing_action():
    s = Setup()
    s.store(secrets.token_bytes(5000), "1-a")
    s.entities.attachments.clear()
    with pytest.raises(NotFound):
        s.fetch("1-a")


# --- the action service ------------------------------------------------------------------------------------


class Racing:
    """The sqlite store, but the first code read finds the action updated just before (its old code gone)."""

    def __init__(self, inner: SqliteStore, update: Callable[[], object]) -> None:
        self.inner = inner
        self.update: Callable[[], object] | None = update

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get_attachment(self, doc_id: str, rev: str, name: str) -> bytes:
        if self.update is not None:
            update, self.update = self.update, None
            update()
        return self.inner.get_attachment(doc_id, rev, name)


def test_get_reads_the_code_again_when_an_update_took_it_between_the_two_reads():
    manifest = RuntimeManifest.from_dict({"runtimes": {"python": [{"kind": "python:3", "image": {"name": "py"}}]}})
    guest, path = Identity("guest", "guest", "u", "h"), EntityPath("guest", "big")
    store = SqliteStore(":memory:")
    store.setup()
    sizes = SizeLimits(code_inline_bytes=100)
    writer = ActionService(store, manifest, LimitPolicy(), sizes)
    first, second = (base64.b64encode(secrets.token_bytes(500)).decode() for _ in range(2))
    writer.put(guest, path, ActionPut(exec=ExecPut(kind="python:3", code=first)), overwrite=False)
    racing = Racing(store, lambda: writer.put(guest, path, ActionPut(exec=ExecPut(kind="python:3", code=second)),
                                              overwrite=True))
    reader = ActionService(racing, manifest, LimitPolicy(), sizes)  # type: ignore[arg-type]
    assert reader.get(guest, path).exec.code == second
