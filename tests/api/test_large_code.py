"""Action code over ``limits.code_inline_bytes`` is kept beside its document: the API answers as for any action
(docs/production.md, "Large action code"); the sqlite store holds it as a blob."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import pytest

from tests.api.conftest import NS, MakeApi, as_dict, error, kv, ok

pytestmark = pytest.mark.api

ACTIONS = f"{NS}/actions"


def zip_exec(data: bytes) -> dict[str, Any]:
    return {"kind": "python:3", "code": base64.b64encode(data).decode(), "main": "main"}


def test_attached_code_round_trips_and_code_false_leaves_it_out(make_api: MakeApi) -> None:
    api = make_api(limits={"code_inline_bytes": 1000})
    data = secrets.token_bytes(50_000)
    created = ok(api.put(f"{ACTIONS}/big", {"exec": zip_exec(data)}))
    assert created["exec"]["code"] == base64.b64encode(data).decode() and created["exec"]["binary"] is True

    got = ok(api.get(f"{ACTIONS}/big"))
    assert base64.b64decode(got["exec"]["code"]) == data
    assert {k: v for k, v in got.items() if k != "exec"} == {k: v for k, v in created.items() if k != "exec"}
    without = api.get(f"{ACTIONS}/big", query={"code": "false"})
    assert ok(without)["exec"] == {"kind": "python:3", "main": "main", "binary": True}
    assert len(without.data) < 1_000
    listed = api.get(ACTIONS)
    assert [a["name"] for a in ok(listed)] == ["big"] and len(listed.data) < 1_000


def test_update_replaces_attached_code_and_metadata_updates_keep_it(make_api: MakeApi) -> None:
    api = make_api(limits={"code_inline_bytes": 1000})
    first, second = secrets.token_bytes(5_000), secrets.token_bytes(6_000)
    ok(api.put(f"{ACTIONS}/a", {"exec": zip_exec(first)}))
    ok(api.put(f"{ACTIONS}/a", {"exec": zip_exec(second)}, query={"overwrite": "true"}))
    assert base64.b64decode(ok(api.get(f"{ACTIONS}/a"))["exec"]["code"]) == second

    updated = ok(api.put(f"{ACTIONS}/a", {"parameters": kv(x=1)}, query={"overwrite": "true"}))
    assert "code" not in updated["exec"]  # not read back just to answer
    got = ok(api.get(f"{ACTIONS}/a"))
    assert base64.b64decode(got["exec"]["code"]) == second and as_dict(got["parameters"]) == {"x": 1}

    ok(api.put(f"{ACTIONS}/a", {"exec": {"kind": "python:3", "code": "def main(a):\n    return a\n"}},
               query={"overwrite": "true"}))
    assert ok(api.get(f"{ACTIONS}/a"))["exec"]["code"] == "def main(a):\n    return a\n"
    ok(api.delete(f"{ACTIONS}/a"))
    assert error(api.get(f"{ACTIONS}/a"), 404) == "The requested resource does not exist."


def test_a_zip_counts_by_its_decoded_bytes(make_api: MakeApi) -> None:
    api = make_api(limits={"exec_bytes": 3000, "code_inline_bytes": 100})
    ok(api.put(f"{ACTIONS}/fits", {"exec": zip_exec(secrets.token_bytes(3000))}))  # 4,000 base64 characters
    response = api.put(f"{ACTIONS}/over", {"exec": zip_exec(secrets.token_bytes(3001))})
    assert error(response, 413) == "Code size exceeds the allowed limit of 3000 bytes."
    text = api.put(f"{ACTIONS}/text", {"exec": {"kind": "python:3", "code": "#" * 3001}})
    assert error(text, 413) == "Code size exceeds the allowed limit of 3000 bytes."


def test_attached_text_code_is_returned_as_text(make_api: MakeApi) -> None:
    api = make_api(limits={"code_inline_bytes": 100})
    code = "def main(args):\n    return {'ünïcode': True}\n" + "# pad\n" * 100
    ok(api.put(f"{ACTIONS}/t", {"exec": {"kind": "python:3", "code": code}}))
    got = ok(api.get(f"{ACTIONS}/t"))
    assert got["exec"]["code"] == code and got["exec"]["binary"] is False
    assert json.loads(api.get(f"{ACTIONS}/t", query={"code": "false"}).data)["exec"].get("code") is None
