"""The ``squall action``/``activation`` client verbs, run as a user runs them, against the real stack."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.integration.conftest import Stack
from tests.integration.squall_cli import json_after_ok_line, ok, squall

pytestmark = pytest.mark.integration

RECORD_DEADLINE_S = 30.0
HELLO = ("def main(args):\n"
         "    print('hello log')\n"
         "    return {'greeting': 'Hello ' + str(args.get('name', 'stranger')), 'n': args.get('n')}\n")


def wait_for_activation(stack: Stack, activation_id: str) -> dict[str, object]:
    deadline = time.monotonic() + RECORD_DEADLINE_S
    while True:
        done = squall(stack, "activation", "get", activation_id)
        if done.returncode == 0:
            record = json_after_ok_line(done.stdout)
            assert isinstance(record, dict)
            if "logs" in record and activation_id in ok(stack, "activation", "list", "--limit", "200"):
                return record
        assert time.monotonic() < deadline, f"no record for {activation_id}: {done.stdout}{done.stderr}"
        time.sleep(0.2)


@pytest.fixture
def hello_file(tmp_path: Path) -> Path:
    path = tmp_path / "hello.py"
    path.write_text(HELLO)
    return path


def test_create_invoke_activation_list_delete(stack: Stack, unique: str, hello_file: Path) -> None:
    assert ok(stack, "action", "create", unique, str(hello_file), "-p", "name", "default").strip() \
        == f"ok: created action {unique}"

    entity = json_after_ok_line(ok(stack, "action", "get", unique))
    assert isinstance(entity, dict)
    assert entity["name"] == unique and entity["exec"]["kind"] == "python:3"
    assert entity["parameters"] == [{"key": "name", "value": "default"}]

    # -p values are JSON when they parse (n → 3), else strings (name → "x y")
    result = json.loads(ok(stack, "action", "invoke", unique, "-r", "-p", "name", "x y", "-p", "n", "3"))
    assert result == {"greeting": "Hello x y", "n": 3}

    blocking = ok(stack, "action", "invoke", unique, "--blocking")
    first, _, rest = blocking.partition("\n")
    assert first.startswith(f"ok: invoked /_/{unique} with id ")
    assert json.loads(rest)["response"]["result"] == {"greeting": "Hello default", "n": None}

    out = ok(stack, "action", "invoke", unique, "-p", "name", "nb").strip()
    prefix = f"ok: invoked /_/{unique} with id "
    assert out.startswith(prefix)
    aid = out[len(prefix):]
    assert len(aid) == 32

    record = wait_for_activation(stack, aid)
    assert record["activationId"] == aid and record["name"] == unique
    logs = ok(stack, "activation", "logs", aid).splitlines()
    assert len(logs) == 1 and logs[0].endswith(" stdout: hello log")
    assert json.loads(ok(stack, "activation", "result", aid)) == {"greeting": "Hello nb", "n": None}
    listed = ok(stack, "activation", "list", unique, "--limit", "10")
    assert listed.splitlines()[0] == "activations" and aid in listed
    row = next(line for line in listed.splitlines() if aid in line)
    assert " python:3 " in row and " success " in row and row.rstrip().endswith(unique)  # wsk's columns

    updated = hello_file.with_name("v2.py")
    updated.write_text("def main(args):\n    return {'v': 2}\n")
    assert ok(stack, "action", "update", unique, str(updated), "--memory", "128", "--timeout", "5000").strip() \
        == f"ok: updated action {unique}"
    entity = json_after_ok_line(ok(stack, "action", "get", unique))
    assert isinstance(entity, dict)
    assert entity["limits"]["memory"] == 128 and entity["limits"]["timeout"] == 5000
    assert json.loads(ok(stack, "action", "invoke", unique, "-r")) == {"v": 2}

    actions = ok(stack, "action", "list", "--limit", "200")
    assert f"/guest/{unique}" in actions

    assert ok(stack, "action", "delete", unique).strip() == f"ok: deleted action {unique}"
    assert f"/guest/{unique} " not in ok(stack, "action", "list", "--limit", "200")


def test_missing_action_is_exit_148_with_the_server_message(stack: Stack, unique: str) -> None:
    done = squall(stack, "action", "get", unique)
    assert done.returncode == 148  # wsk's 404 - 256
    assert "The requested resource does not exist." in done.stderr
    assert done.stdout == ""


def test_create_twice_is_a_conflict_and_bad_auth_is_rejected(stack: Stack, unique: str, hello_file: Path) -> None:
    ok(stack, "action", "create", unique, str(hello_file))
    again = squall(stack, "action", "create", unique, str(hello_file))
    assert again.returncode == 153 and "error:" in again.stderr  # 409 - 256
    bad = squall(stack, "action", "list", "--auth", f"{stack.guest[0]}:wrong")
    assert bad.returncode == 145 and "error:" in bad.stderr  # 401 - 256
    ok(stack, "action", "delete", unique)


def test_zip_without_kind_is_a_usage_error(stack: Stack, tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    done = squall(stack, "action", "create", "z", str(archive))
    assert done.returncode == 1 and "--kind" in done.stderr  # a usage error exits 1, as in wsk


def test_unreachable_apihost_names_the_host(stack: Stack) -> None:
    done = squall(stack, "action", "list", "--apihost", "http://127.0.0.1:1")
    assert done.returncode == 3  # wsk's network error
    assert "http://127.0.0.1:1" in done.stderr and "--apihost" in done.stderr
