from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.host.images import RuntimeImage, missing_images, runtime_images

pytestmark = pytest.mark.unit


def _runtimes(tmp_path: Path, folders: list[str]) -> Path:
    manifest = {
        "runtimes": {
            "python": [{"kind": "python:3", "image": {"prefix": "squall", "name": "action-python-v3"}}],
            "nodejs": [
                {"kind": "nodejs:18", "image": {"prefix": "squall", "name": "action-nodejs-v18", "tag": "latest"}},
                {"kind": "nodejs:20", "image": {"prefix": "openwhisk", "name": "action-nodejs-v20"}},
                {"kind": "nodejs:16", "deprecated": True, "image": {"prefix": "squall", "name": "old"}},
            ],
        },
        "blackboxes": [
            {"prefix": "openwhisk", "name": "dockerskeleton", "tag": "nightly", "folder": "skel",
             "alsoTag": ["latest"]},
            {"prefix": "openwhisk", "name": "somethingelse", "tag": "nightly"},
        ],
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    for folder in folders:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "Dockerfile").write_text("FROM scratch\n")
    return tmp_path


def test_builds_our_runtimes_and_local_blackboxes_that_have_a_dockerfile(tmp_path: Path) -> None:
    runtimes = _runtimes(tmp_path, ["python3", "nodejs18", "skel"])
    assert runtime_images(runtimes) == [
        RuntimeImage("python:3", "squall/action-python-v3:latest", "python3/Dockerfile"),
        RuntimeImage("nodejs:18", "squall/action-nodejs-v18:latest", "nodejs18/Dockerfile"),
        RuntimeImage("blackbox", "openwhisk/dockerskeleton:nightly", "skel/Dockerfile",
                     also=("openwhisk/dockerskeleton:latest",)),
    ]  # not openwhisk's own runtime images, nor a deprecated kind without a folder


def test_kinds_select_by_kind_or_tag(tmp_path: Path) -> None:
    runtimes = _runtimes(tmp_path, ["python3", "nodejs18", "skel"])
    assert [i.tag for i in runtime_images(runtimes, ["nodejs:18"])] == ["squall/action-nodejs-v18:latest"]
    assert [i.kind for i in runtime_images(runtimes, ["blackbox"])] == ["blackbox"]
    assert [i.kind for i in runtime_images(runtimes, ["openwhisk/dockerskeleton:nightly"])] == ["blackbox"]


def test_missing_images_are_those_lacking_a_tag_or_an_extra_tag(tmp_path: Path) -> None:
    images = runtime_images(_runtimes(tmp_path, ["python3", "nodejs18", "skel"]))
    present = {"squall/action-python-v3:latest", "openwhisk/dockerskeleton:nightly"}
    assert [i.tag for i in missing_images(images, present.__contains__)] == [
        "squall/action-nodejs-v18:latest", "openwhisk/dockerskeleton:nightly"]  # the skeleton lacks :latest
    present |= {"squall/action-nodejs-v18:latest", "openwhisk/dockerskeleton:latest"}
    assert missing_images(images, present.__contains__) == []
