"""``limits.concurrency`` above 1 only for kinds whose manifest entry says ``concurrent`` (pure, with an
in-memory entity store of our own port)."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.errors import Invalid, NotFound
from app.core.identities import Identity
from app.core.limits import LimitPolicy
from app.core.manifest import RuntimeManifest
from app.core.names import EntityPath
from app.core.requests import ActionPut
from app.core.services.actions import ActionService

pytestmark = pytest.mark.unit

MANIFEST = RuntimeManifest.from_dict({"runtimes": {
    "python": [{"kind": "python:3", "image": {"name": "py"}}],
    "nodejs": [{"kind": "nodejs:20", "image": {"name": "node"}, "concurrent": True}],
}})
GUEST = Identity("guest", "guest", "u", "h")


class Entities:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    def get_entity(self, doc_id: str) -> dict[str, Any]:
        if doc_id not in self.docs:
            raise NotFound()
        return dict(self.docs[doc_id])

    def put_entity(self, doc: dict[str, Any]) -> str:
        self.docs[doc["_id"]] = {**doc, "_rev": "1-x"}
        return "1-x"


def put(kind: str, concurrency: int) -> Any:
    service = ActionService(Entities(), MANIFEST, LimitPolicy(max_concurrency=500))  # type: ignore[arg-type]
    exec_ = {"kind": kind, "code": "x", **({"image": "me/img"} if kind == "blackbox" else {})}
    body = ActionPut.model_validate({"exec": exec_, "limits": {"concurrency": concurrency}})
    return service.put(GUEST, EntityPath("guest", "a"), body, overwrite=False)


def test_manifest_reads_the_concurrent_flag():
    assert MANIFEST.supports_concurrency("nodejs:20")
    assert not MANIFEST.supports_concurrency("python:3")
    assert not MANIFEST.supports_concurrency("blackbox")


def test_a_concurrent_kind_takes_concurrency_above_one():
    assert put("nodejs:20", 50).limits.concurrency == 50


@pytest.mark.parametrize("kind", ["python:3", "blackbox"])
def test_other_kinds_keep_openwhisks_threshold_of_one(kind):
    with pytest.raises(Invalid, match="^concurrency 2 exceeds allowed threshold of 1$"):
        put(kind, 2)
    assert put(kind, 1).limits.concurrency == 1


def test_the_configured_maximum_still_applies():
    with pytest.raises(Invalid, match="concurrency 501 exceeds allowed threshold of 500"):
        put("nodejs:20", 501)
