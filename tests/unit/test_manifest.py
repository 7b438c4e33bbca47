from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.errors import Invalid
from app.core.manifest import ManifestError, RuntimeManifest
from app.host.images import runtime_images

pytestmark = pytest.mark.unit

REPO_MANIFEST = Path(__file__).resolve().parents[2] / "runtimes" / "manifest.json"

DATA = {
    "runtimes": {
        "python": [
            {"kind": "python:3.10", "default": False, "deprecated": True,
             "image": {"prefix": "squall", "name": "action-python-v3.10", "tag": "old"}},
            {"kind": "python:3", "default": True, "deprecated": False,
             "image": {"prefix": "squall", "name": "action-python-v3", "tag": "latest"},
             "attached": {"attachmentName": "codefile", "attachmentType": "text/plain"},
             "stemCells": [{"initialCount": 2, "memory": "256 MB"}]},
        ],
        "nodejs": [
            {"kind": "nodejs:20", "image": {"prefix": "openwhisk", "name": "action-nodejs-v20", "tag": "nightly"},
             "requireMain": False, "concurrent": True},
        ],
    },
    "blackboxes": [{"prefix": "openwhisk", "name": "dockerskeleton", "tag": "nightly"}],
}


@pytest.fixture
def manifest() -> RuntimeManifest:
    return RuntimeManifest.from_dict(DATA)


def test_image_reference_is_prefix_name_tag(manifest):
    assert manifest.image("python:3") == "squall/action-python-v3:latest"
    assert manifest.image("nodejs:20") == "openwhisk/action-nodejs-v20:nightly"


def test_default_kind_resolves(manifest):
    assert manifest.resolve("python:default") == "python:3"
    assert manifest.default_kind("python") == "python:3"
    assert manifest.image("python:default") == "squall/action-python-v3:latest"


def test_lone_kind_is_its_family_default(manifest):
    assert manifest.resolve("nodejs:default") == "nodejs:20"


def test_concrete_blackbox_and_sequence_kinds_resolve_to_themselves(manifest):
    assert manifest.resolve("python:3") == "python:3"
    assert manifest.resolve("blackbox") == "blackbox"
    assert manifest.resolve("sequence") == "sequence"


def test_blackbox_and_sequence_have_no_manifest_image(manifest):
    for kind in ("blackbox", "sequence"):
        with pytest.raises(Invalid):
            manifest.image(kind)


def test_unknown_kind_names_the_valid_values(manifest):
    with pytest.raises(Invalid) as info:
        manifest.resolve("cobol:1")
    assert info.value.message == (
        "The specified runtime 'cobol:1' is not supported by this platform. "
        "Valid values are: nodejs:20, python:3, blackbox."
    )
    with pytest.raises(Invalid):
        manifest.resolve("cobol:default")


def test_deprecated_kind_is_refused_unless_allowed(manifest):
    assert manifest.is_deprecated("python:3.10")
    assert not manifest.is_deprecated("python:3")
    assert not manifest.is_deprecated("cobol:1")
    with pytest.raises(Invalid) as info:
        manifest.resolve("python:3.10")
    assert info.value.message == (
        "The 'python:3.10' runtime is no longer supported. "
        "You may read and delete but not update or invoke this action."
    )
    assert manifest.resolve("python:3.10", allow_deprecated=True) == "python:3.10"
    assert manifest.image("python:3.10") == "squall/action-python-v3.10:old"


def test_families_in_manifest_order(manifest):
    assert manifest.families() == {"python": ["python:3.10", "python:3"], "nodejs": ["nodejs:20"]}


def test_to_api_is_openwhisks_runtimes_object(manifest):
    api = manifest.to_api()
    assert set(api) == {"runtimes"}
    assert api["runtimes"]["python"][1] == {
        "kind": "python:3", "image": "squall/action-python-v3:latest", "deprecated": False, "default": True,
        "attached": True, "requireMain": False, "stemCells": [{"initialCount": 2, "memory": "256 MB"}],
    }
    assert api["runtimes"]["nodejs"] == [{
        "kind": "nodejs:20", "image": "openwhisk/action-nodejs-v20:nightly", "deprecated": False,
        "default": False, "attached": False, "requireMain": False,
    }]
    json.dumps(api)


def test_stem_cells_and_blackboxes(manifest):
    cells = manifest.stem_cells()
    assert list(cells) == ["python:3"]
    assert cells["python:3"][0].initial_count == 2 and cells["python:3"][0].memory_mb == 256
    assert [b.ref for b in manifest.blackboxes] == ["openwhisk/dockerskeleton:nightly"]


@pytest.mark.parametrize("bad", [
    {"runtimes": {"python": [{"kind": "python:3", "image": {"name": "a"}, "default": True},
                             {"kind": "python:4", "image": {"name": "b"}, "default": True}]}},
    {"runtimes": {"python": [{"kind": "python:3", "image": {"name": "a"}},
                             {"kind": "python:4", "image": {"name": "b"}}]}},
    {"runtimes": {"python": [{"kind": "python:3", "image": {"name": "a"}},
                             {"kind": "python:3", "image": {"name": "b"}}]}},
    {"runtimes": {"python": [{"kind": "python:3"}]}},
    {"runtimes": {"python": []}},
    {"runtimes": {"python": [{"kind": "python:3", "image": {"name": "a"},
                              "stemCells": [{"initialCount": 0, "memory": "256 MB"}]}]}},
    {"runtimes": {"python": [{"kind": "python:3", "image": {"name": "a"},
                              "stemCells": [{"initialCount": 1, "memory": "lots"}]}]}},
    [],
])
def test_malformed_manifest_fails_at_load(bad):
    with pytest.raises(ManifestError):
        RuntimeManifest.from_dict(bad)


def test_load_reads_a_file(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(DATA))
    assert RuntimeManifest.load(path).resolve("python:default") == "python:3"
    with pytest.raises(ManifestError):
        RuntimeManifest.load(tmp_path / "missing.json")


def test_the_shipped_manifest_loads():
    manifest = RuntimeManifest.load(REPO_MANIFEST)
    assert manifest.image(manifest.resolve("python:default")) == "squall/action-python-v3:latest"
    assert manifest.image(manifest.resolve("nodejs:default")) == "squall/action-nodejs-v18:latest"
    assert manifest.supports_concurrency("nodejs:18")
    assert not manifest.supports_concurrency("python:3")
    assert "openwhisk/dockerskeleton:nightly" in [b.ref for b in manifest.blackboxes]


def test_concurrency_is_what_the_manifest_says(manifest):
    assert manifest.supports_concurrency("nodejs:20")
    assert manifest.supports_concurrency("nodejs:default")
    assert not manifest.supports_concurrency("python:3")
    assert not manifest.supports_concurrency("python:3.10")  # deprecated kinds still answer
    for kind in ("blackbox", "sequence", "cobol:1"):
        assert not manifest.supports_concurrency(kind)


def test_every_shipped_kind_has_an_image_we_build():
    """A kind without a Dockerfile would pass validation and then fail every invoke."""
    built = {image.kind for image in runtime_images(REPO_MANIFEST.parent)}
    manifest = RuntimeManifest.load(REPO_MANIFEST)
    kinds = {kind for family in manifest.families().values() for kind in family if not manifest.is_deprecated(kind)}
    assert kinds <= built
    assert "blackbox" in built  # the dockerskeleton stand-in
