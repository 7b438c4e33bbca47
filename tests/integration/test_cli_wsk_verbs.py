"""wsk's everyday flags in the ``squall`` client verbs, typed as a user types them (the console script as a
subprocess) against the real stack, each flag's effect checked on the server: ``-P/-A`` files, ``--web``,
``--web-secure``, ``-l/-c``, ``action get --summary/--url/--save``, ``activation --last/--summary/--strip``,
``activation poll``, ``squall list``, ``--json``, ``action create --copy`` and ``squall api``."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.integration.conftest import Stack
from tests.integration.squall_cli import SQUALL, json_after_ok_line, ok, squall

pytestmark = pytest.mark.integration

RECORD_DEADLINE_S = 30.0
LINE_DEADLINE_S = 60.0
# the arguments without __ow_* (web actions get the request's too)
ECHO = "def main(args):\n    return {k: v for k, v in args.items() if not k.startswith('__')}\n"
HELLO = "def main(args):\n    print('hello log')\n    return {'greeting': 'hi ' + str(args.get('name', 'you'))}\n"


@pytest.fixture
def echo_file(tmp_path: Path) -> Path:
    path = tmp_path / "echo.py"
    path.write_text(ECHO)
    return path


@pytest.fixture
def hello_file(tmp_path: Path) -> Path:
    path = tmp_path / "hello.py"
    path.write_text(HELLO)
    return path


def json_file(tmp_path: Path, name: str, value: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(value))
    return str(path)


def entity(stack: Stack, kind: str, name: str) -> dict[str, Any]:
    got = json.loads(ok(stack, kind, "get", name, "--json"))
    assert isinstance(got, dict)
    return got


def notes(got: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: a["value"] for a in got["annotations"]}


def usage_error(stack: Stack, *args: str) -> str:
    done = squall(stack, *args)
    assert done.returncode == 1 and done.stdout == "", f"{args}: {done.returncode} {done.stdout} {done.stderr}"
    return done.stderr


def newest_is(stack: Stack, activation_id: str) -> None:
    """Wait until ``activation_id``'s record is stored and is the namespace's newest (what --last picks)."""
    deadline = time.monotonic() + RECORD_DEADLINE_S
    while True:
        listed = json.loads(ok(stack, "activation", "list", "--limit", "1", "--json"))
        if listed and listed[0]["activationId"] == activation_id:
            return
        assert time.monotonic() < deadline, f"{activation_id} is not the newest stored activation: {listed}"
        time.sleep(0.2)


def blocking_id(stack: Stack, *args: str) -> str:
    first = ok(stack, "action", "invoke", *args, "--blocking").partition("\n")[0]
    return first.rsplit(" ", 1)[1]


# -- -P/-A files ------------------------------------------------------------------------------------


def test_param_and_annotation_files_reach_every_entity(stack: Stack, unique: str, echo_file: Path,
                                                       tmp_path: Path) -> None:
    params = json_file(tmp_path, "params.json", {"a": 1, "b": {"deep": [1, 2]}, "c": "file"})
    annots = json_file(tmp_path, "annots.json", {"description": "from a file", "n": 2})

    ok(stack, "action", "create", unique, str(echo_file), "-P", params, "-p", "c", "flag", "-A", annots,
       "-a", "extra", "true")
    got = entity(stack, "action", unique)
    assert got["parameters"] == [{"key": "a", "value": 1}, {"key": "b", "value": {"deep": [1, 2]}},
                                 {"key": "c", "value": "flag"}]  # -p over the file's key
    assert notes(got)["description"] == "from a file" and notes(got)["n"] == 2 and notes(got)["extra"] is True
    payload = json_file(tmp_path, "payload.json", {"x": [True]})
    assert json.loads(ok(stack, "action", "invoke", unique, "-r", "-P", payload)) == {
        "a": 1, "b": {"deep": [1, 2]}, "c": "flag", "x": [True]}
    ok(stack, "action", "update", unique, "-P", json_file(tmp_path, "p2.json", {"a": 5}))
    assert entity(stack, "action", unique)["parameters"] == [{"key": "a", "value": 5}]

    ok(stack, "trigger", "create", f"{unique}-t", "-P", params, "-A", annots)
    trigger = entity(stack, "trigger", f"{unique}-t")
    assert {p["key"] for p in trigger["parameters"]} == {"a", "b", "c"}
    assert notes(trigger)["description"] == "from a file"
    ok(stack, "trigger", "update", f"{unique}-t", "-P", json_file(tmp_path, "t2.json", {"c": "updated"}))
    assert entity(stack, "trigger", f"{unique}-t")["parameters"] == [{"key": "c", "value": "updated"}]
    ok(stack, "rule", "create", f"{unique}-r", f"{unique}-t", unique)
    fired = ok(stack, "trigger", "fire", f"{unique}-t", "-P", payload).strip()
    assert fired.startswith(f"ok: triggered /_/{unique}-t with id ")
    deadline = time.monotonic() + RECORD_DEADLINE_S
    while True:  # the invoke -r above, then the one the rule caused
        records = json.loads(ok(stack, "activation", "list", unique, "--json", "--full"))
        if len(records) == 2:
            break
        assert time.monotonic() < deadline, "the rule's activation was not stored"
        time.sleep(0.2)
    assert records[0]["response"]["result"] == {"a": 5, "c": "updated", "x": [True]}  # the fire's -P payload

    ok(stack, "package", "create", f"{unique}-p", "-P", params, "-A", annots)
    package = entity(stack, "package", f"{unique}-p")
    assert {p["key"] for p in package["parameters"]} == {"a", "b", "c"}
    ok(stack, "package", "update", f"{unique}-p", "-A", json_file(tmp_path, "a2.json", {"description": "new"}))
    assert notes(entity(stack, "package", f"{unique}-p"))["description"] == "new"
    ok(stack, "package", "bind", f"{unique}-p", f"{unique}-b", "-P", payload)
    assert entity(stack, "package", f"{unique}-b")["binding"] == {"namespace": "guest", "name": f"{unique}-p"}
    assert {"key": "x", "value": [True]} in entity(stack, "package", f"{unique}-b")["parameters"]

    # a file that is not a JSON object is refused before anything is sent
    bad = json_file(tmp_path, "list.json", [1, 2])
    assert "not an object" in usage_error(stack, "action", "update", unique, "-P", bad)
    assert "not an object" in usage_error(stack, "trigger", "fire", f"{unique}-t", "-P", bad)
    for args in (("rule", "delete", f"{unique}-r"), ("trigger", "delete", f"{unique}-t"),
                 ("package", "delete", f"{unique}-b"), ("package", "delete", f"{unique}-p"),
                 ("action", "delete", unique)):
        ok(stack, *args)


# -- --web, --web-secure, limits ------------------------------------------------------------------------------


def test_web_flags_make_and_secure_a_web_action(stack: Stack, unique: str, echo_file: Path) -> None:
    anonymous = httpx.Client(timeout=90.0)
    ok(stack, "action", "create", unique, str(echo_file), "--web", "true", "-p", "fixed", "1")
    assert {k: v for k, v in notes(entity(stack, "action", unique)).items() if k != "exec"} == {
        "web-export": True, "raw-http": False, "final": True, "provide-api-key": False}
    url = ok(stack, "action", "get", unique, "--url").splitlines()
    assert url == [f"ok: got action {unique}", f"{stack.url}/api/v1/web/guest/default/{unique}"]
    assert anonymous.get(url[1] + ".json", params={"q": "1"}).json() == {"fixed": 1, "q": "1"}
    # --summary: final, so the bound parameter is marked **
    assert ok(stack, "action", "get", unique, "--summary").splitlines() == [
        f"action /guest/{unique}: Returns a result based on parameter fixed", "   (parameters: **fixed)"]

    ok(stack, "action", "update", unique, "--web-secure", "s3cret")
    assert notes(entity(stack, "action", unique))["require-whisk-auth"] == "s3cret"
    assert anonymous.get(url[1] + ".json").status_code == 401
    assert anonymous.get(url[1] + ".json", headers={"X-Require-Whisk-Auth": "s3cret"}).status_code == 200
    ok(stack, "action", "update", unique, "--web-secure", "true")
    secret = notes(entity(stack, "action", unique))["require-whisk-auth"]
    assert isinstance(secret, int) and not isinstance(secret, bool) and 0 <= secret < 2**53
    assert anonymous.get(url[1] + ".json", headers={"X-Require-Whisk-Auth": str(secret)}).status_code == 200
    ok(stack, "action", "update", unique, "--web-secure", "true")  # a generated secret is kept, as wsk does
    assert notes(entity(stack, "action", unique))["require-whisk-auth"] == secret
    ok(stack, "action", "update", unique, "--web-secure", "false")
    assert "require-whisk-auth" not in notes(entity(stack, "action", unique))
    assert anonymous.get(url[1] + ".json").status_code == 200

    ok(stack, "action", "update", unique, "--web", "raw")
    assert notes(entity(stack, "action", unique))["raw-http"] is True
    ok(stack, "action", "update", unique, "--web", "no")
    got = notes(entity(stack, "action", unique))
    assert (got["web-export"], got["raw-http"], got["final"]) == (False, False, False)
    assert anonymous.get(url[1] + ".json").status_code == 404
    assert ok(stack, "action", "get", unique, "--url").splitlines()[1] \
        == f"{stack.url}/api/v1/namespaces/guest/actions/{unique}"
    assert "only valid when the --web option is enabled" in usage_error(
        stack, "action", "update", unique, "--web-secure", "x")
    assert "Invalid argument 'maybe' for --web flag" in usage_error(stack, "action", "update", unique, "--web",
                                                                     "maybe")

    ok(stack, "action", "update", unique, "-l", "5", "-m", "128", "-t", "3000")
    assert entity(stack, "action", unique)["limits"] == {"timeout": 3000, "memory": 128, "logs": 5,
                                                         "concurrency": 1}
    refused = squall(stack, "action", "update", unique, "-c", "2")  # python:3 runs one activation at a time: 400
    assert refused.returncode == 144 and "concurrency" in refused.stderr
    ok(stack, "action", "update", unique, "-a", "note", "x")
    ok(stack, "action", "update", unique, "--del-annotation", "note")
    assert "note" not in notes(entity(stack, "action", unique))
    anonymous.close()
    ok(stack, "action", "delete", unique)


# -- action get -----------------------------------------------------------------------------------------------


def test_action_copy_takes_code_parameters_and_annotations(stack: Stack, unique: str, echo_file: Path) -> None:
    ok(stack, "action", "create", unique, str(echo_file), "-p", "a", "1", "-p", "b", "2", "-a", "note", "x",
       "-m", "512")
    copy = f"{unique}-copy"
    assert ok(stack, "action", "create", copy, unique, "--copy", "-p", "b", "3").strip() == \
        f"ok: created action {copy}"
    original, copied = entity(stack, "action", unique), entity(stack, "action", copy)
    assert copied["exec"]["code"] == original["exec"]["code"] == ECHO
    assert {p["key"]: p["value"] for p in copied["parameters"]} == {"a": 1, "b": 3}  # -p given here wins
    assert notes(copied)["note"] == "x"
    assert original["limits"]["memory"] == 512 and copied["limits"]["memory"] != 512  # limits are not copied (wsk)
    assert json.loads(ok(stack, "action", "invoke", copy, "-r")) == {"a": 1, "b": 3}
    ok(stack, "action", "update", copy, unique, "--copy", "-p", "b", "4")
    assert json.loads(ok(stack, "action", "invoke", copy, "-r")) == {"a": 1, "b": 4}

    assert "--copy needs the name" in usage_error(stack, "action", "create", f"{unique}-x", "--copy")
    assert "--copy takes the code" in usage_error(stack, "action", "create", f"{unique}-x", unique, "--copy",
                                                  "--kind", "python:3")
    assert "does not exist" in usage_error(stack, "action", "create", f"{unique}-x", "no-such-file.py")
    done = squall(stack, "action", "create", f"{unique}-x", f"{unique}-missing", "--copy")
    assert done.returncode == 148, done  # 404 - 256, as wsk


def test_action_get_field_save_and_json(stack: Stack, unique: str, hello_file: Path, tmp_path: Path) -> None:
    ok(stack, "action", "create", unique, str(hello_file), "-m", "128")
    field = ok(stack, "action", "get", unique, "limits")
    assert json_after_ok_line(field) == entity(stack, "action", unique)["limits"]
    assert field.startswith(f"ok: got action {unique}, displaying field limits\n")
    assert "Invalid field filter 'nope'" in usage_error(stack, "action", "get", unique, "nope")
    assert "does not combine with --summary" in usage_error(stack, "action", "get", unique, "--json", "-s")

    env = {**stack.env, "SQUALL_CLIENT_APIHOST": stack.url, "SQUALL_CLIENT_AUTH": ":".join(stack.guest)}
    saved = subprocess.run([SQUALL, "action", "get", unique, "--save"], env=env, cwd=tmp_path, capture_output=True,
                           text=True, timeout=60, check=False)
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.strip() == f"ok: saved action code to {tmp_path / (unique + '.py')}"
    assert (tmp_path / f"{unique}.py").read_text() == HELLO
    again = subprocess.run([SQUALL, "action", "get", unique, "--save"], env=env, cwd=tmp_path, capture_output=True,
                           text=True, timeout=60, check=False)
    assert again.returncode == 1 and f"The file '{unique}.py' already exists" in again.stderr
    target = tmp_path / "copy.txt"
    ok(stack, "action", "get", unique, "--save-as", str(target))
    assert target.read_text() == HELLO
    ok(stack, "action", "create", f"{unique}-s", "--sequence", unique)
    cannot = squall(stack, "action", "get", f"{unique}-s", "--save-as", str(tmp_path / "seq"))
    assert cannot.returncode == 1 and "Cannot save action sequences" in cannot.stderr

    listed = json.loads(ok(stack, "action", "list", "--limit", "200", "--json"))
    assert any(a["name"] == unique and a["namespace"] == "guest" for a in listed)
    ok(stack, "action", "delete", f"{unique}-s")
    ok(stack, "action", "delete", unique)


# -- activations ----------------------------------------------------------------------------------------------


def test_last_summary_strip_and_json_on_activations(stack: Stack, unique: str, hello_file: Path) -> None:
    ok(stack, "action", "create", unique, str(hello_file))
    aid = blocking_id(stack, unique, "-p", "name", "last")
    newest_is(stack, aid)

    last: Any = json_after_ok_line(ok(stack, "activation", "get", "--last"))
    assert last["activationId"] == aid
    response = ok(stack, "activation", "get", "-l", "response")
    assert response.startswith(f"ok: got activation {aid}, displaying field response\n")
    field: Any = json_after_ok_line(response)
    assert field["result"] == {"greeting": "hi last"}
    summary = ok(stack, "activation", "get", aid, "--summary").splitlines()
    assert summary[0].startswith(f"activation result for '/guest/{unique}' (success at ")
    assert json.loads("\n".join(summary[1:])) == {"greeting": "hi last"}
    assert ok(stack, "activation", "get", aid, "-g").splitlines() == ["hello log"]

    raw = ok(stack, "activation", "logs", "--last").splitlines()
    assert len(raw) == 1 and raw[0].endswith(" stdout: hello log") and raw[0][:4].isdigit()
    assert ok(stack, "activation", "logs", "-l", "--strip").splitlines() == ["hello log"]
    assert json.loads(ok(stack, "activation", "logs", aid, "--json")) == {"logs": raw}
    assert json.loads(ok(stack, "activation", "result", "--last")) == {"greeting": "hi last"}
    assert json.loads(ok(stack, "activation", "get", aid, "--json"))["activationId"] == aid

    assert "takes no ACTIVATION_ID" in usage_error(stack, "activation", "logs", aid, "--last")
    assert "An activation ID is required" in usage_error(stack, "activation", "result")
    assert "does not combine with --strip" in usage_error(stack, "activation", "logs", aid, "-r", "--json")
    ok(stack, "action", "delete", unique)


def _lines(process: subprocess.Popen[str]) -> Iterator[str]:
    """The process's stdout lines as they come; fails the test when none comes for a minute."""
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    stream = process.stdout

    def read() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)
    threading.Thread(target=read, daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=LINE_DEADLINE_S)
        except queue.Empty:
            pytest.fail("activation poll printed nothing for a minute")
        if line is None:
            return
        yield line


def test_poll_prints_new_activations_then_stops_on_ctrl_c(stack: Stack, unique: str, hello_file: Path) -> None:
    ok(stack, "action", "create", unique, str(hello_file))
    env = {**stack.env, "SQUALL_CLIENT_APIHOST": stack.url, "SQUALL_CLIENT_AUTH": ":".join(stack.guest)}
    with subprocess.Popen([SQUALL, "activation", "poll", unique, "--exit", "600"], env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        try:
            lines = _lines(process)
            assert next(lines) == "Enter Ctrl-c to exit."
            assert next(lines) == "Polling for activation logs"
            aid = ok(stack, "action", "invoke", unique, "-p", "name", "poll").strip().rsplit(" ", 1)[1]
            assert next(lines) == ""
            assert next(lines) == f"Activation: '{unique}' ({aid})"
            logs = [next(lines) for _ in range(3)]
            assert logs[0] == "[" and logs[1].strip().strip('"').endswith(" stdout: hello log") and logs[2] == "]"
            process.send_signal(signal.SIGINT)
            assert list(lines) == ["Poll terminated"]
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()

    # --since-*: from that far back, the activation shows again; --exit ends the poll by itself, exit 0
    done = squall(stack, "activation", "poll", unique, "--since-minutes", "10", "--exit", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:4] == ["Enter Ctrl-c to exit.", "Polling for activation logs", "",
                                            f"Activation: '{unique}' ({aid})"]
    ok(stack, "action", "delete", unique)


# -- squall list, --json, --summary -----------------------------------------------------------------------------


def test_list_shows_the_namespace_and_summaries(stack: Stack, unique: str, echo_file: Path) -> None:
    ok(stack, "package", "create", f"{unique}-p", "-p", "greeting", "hi")
    ok(stack, "action", "create", f"{unique}-p/echo", str(echo_file))
    ok(stack, "action", "create", unique, str(echo_file))
    ok(stack, "trigger", "create", f"{unique}-t", "-p", "b", "1", "-p", "a", "2",
       "-a", "description", "Ticks")
    ok(stack, "rule", "create", f"{unique}-r", f"{unique}-t", unique)
    ok(stack, "rule", "disable", f"{unique}-r")

    listed = ok(stack, "list", "-n")
    assert listed.startswith("Entities in namespace: default\npackages\n")
    sections = {}
    for block in ("packages", "actions", "triggers", "rules"):
        part = listed.split(f"\n{block}\n", 1)[1]
        sections[block] = {line.split()[0]: line.split()[1:] for line in part.split("\n")[1:]
                           if line.startswith("/guest/")}
    assert sections["packages"][f"/guest/{unique}-p"] == ["private"]
    assert sections["actions"][f"/guest/{unique}"] == ["private", "python:3"]
    assert sections["actions"][f"/guest/{unique}-p/echo"] == ["private", "python:3"]
    assert sections["triggers"][f"/guest/{unique}-t"][0] == "private"
    assert sections["rules"][f"/guest/{unique}-r"] == ["private", "inactive"]
    names = [line.split()[0] for line in listed.split("\nactions\n", 1)[1].split("\ntriggers\n")[0].splitlines()[1:]]
    packaged = [n for n in names if n.count("/") == 3]  # wsk's -n: outside packages first, then ns/pkg + name
    assert names == sorted(n for n in names if n.count("/") == 2) + sorted(
        packaged, key=lambda n: "".join(n[1:].rsplit("/", 1)).lower())
    assert ok(stack, "list", "/guest") == ok(stack, "namespace", "get", "/guest")

    everything = json.loads(ok(stack, "list", "--json"))
    assert set(everything) == {"packages", "actions", "triggers", "rules"}
    assert {"guest/" + r["name"]: r["status"] for r in everything["rules"]}[f"guest/{unique}-r"] == "inactive"
    assert json.loads(ok(stack, "namespace", "list", "--json")) == ["guest"]
    for kind in ("trigger", "rule", "package"):
        assert any(e["name"].startswith(unique) for e in json.loads(ok(stack, kind, "list", "--limit", "200",
                                                                       "--json")))

    assert ok(stack, "trigger", "get", f"{unique}-t", "--summary").splitlines() == [
        f"trigger /guest/{unique}-t: Ticks", "   (parameters: *a, *b)"]
    assert ok(stack, "rule", "get", f"{unique}-r", "-s").splitlines() == [
        f"rule /guest/{unique}-r", "   (status: inactive)"]
    assert ok(stack, "package", "get", f"{unique}-p", "-s").splitlines() == [
        f"package /guest/{unique}-p: Returns a result based on parameter greeting", "   (parameters: *greeting)",
        f" action /guest/{unique}-p/echo", "   (parameters: none defined)"]
    assert json_after_ok_line(ok(stack, "rule", "get", f"{unique}-r", "status")) == "inactive"
    for args in (("rule", "delete", f"{unique}-r"), ("trigger", "delete", f"{unique}-t"),
                 ("action", "delete", unique), ("action", "delete", f"{unique}-p/echo"),
                 ("package", "delete", f"{unique}-p")):
        ok(stack, *args)


# -- squall api ------------------------------------------------------------------------------------------------


def test_api_create_list_get_and_delete(stack: Stack, unique: str, echo_file: Path, tmp_path: Path) -> None:
    base = f"/{unique}"
    ok(stack, "action", "create", f"{unique}-plain", str(echo_file))
    refused = squall(stack, "api", "create", base, "/books", "get", f"{unique}-plain")
    assert refused.returncode == 1 and f"Action '/_/{unique}-plain' is not a web action" in refused.stderr
    ok(stack, "action", "create", unique, str(echo_file), "--web", "true", "--web-secure", "s3cret")

    created = ok(stack, "api", "create", base, "/books", "get", unique, "-n", "Book Club").splitlines()
    url = f"{stack.url}/api/guest{base}/books"
    assert created == [f"ok: created API {base}/books GET for action /_/{unique}", url]
    with httpx.Client(timeout=90.0) as anonymous:  # the gateway hands the action its secret
        assert anonymous.get(url, params={"q": "x"}).json() == {"q": "x"}
    ok(stack, "api", "create", base, "/books/{isbn}", "post", unique, "--response-type", "http")
    assert "A response type of 'http' is required" in usage_error(stack, "api", "create", base, "/b/{x}", "get",
                                                                    unique)
    assert "not a valid API verb" in usage_error(stack, "api", "create", base, "/b", "fetch", unique)

    table = ok(stack, "api", "list", base, "-n").splitlines()
    assert table[0] == "ok: APIs"
    assert table[1].split() == ["Action", "Verb", "API", "Name", "URL"]
    assert [line.split() for line in table[2:]] == [  # -n: by base path, path and verb, as wsk sorts them
        [f"/guest/{unique}", "post", "Book", "Club", url + "/{isbn}"],
        [f"/guest/{unique}", "get", "Book", "Club", url]]
    assert ok(stack, "api", "list", base, "/books", "get", "-f").splitlines() == [
        "ok: APIs", f"Action: /guest/{unique}", "   API Name: Book Club", f"   Base path: {base}",
        "   Path: /books", "   Verb: get", f"   URL: {url}"]
    assert any(e["value"]["apidoc"]["basePath"] == base
               for e in json.loads(ok(stack, "api", "list", "--json"))["apis"])
    swagger = json.loads(ok(stack, "api", "get", base))
    assert swagger["basePath"] == base and set(swagger["paths"]) == {"/books", "/books/{isbn}"}

    assert ok(stack, "api", "delete", base, "/books/{isbn}", "post").strip() \
        == f"ok: deleted /books/{{isbn}} POST from {base}"
    assert ok(stack, "api", "delete", base).strip() == f"ok: deleted API {base}"
    assert ok(stack, "api", "list", base).splitlines() == ["ok: APIs", f"{'Action':<30} {'Verb':>7} "
                                                                         f"{'API Name':>20}  URL"]

    # the document api get printed makes the same API again
    config = tmp_path / "api.json"
    config.write_text(json.dumps({k: v for k, v in swagger.items() if k != "paths"}
                                 | {"paths": {"/books": swagger["paths"]["/books"]}}))
    assert ok(stack, "api", "create", "--config-file", str(config)).splitlines() == [
        f"ok: created API {base}/books get for action /guest/{unique}", url]
    with httpx.Client(timeout=90.0) as anonymous:
        assert anonymous.get(url, params={"q": "y"}).json() == {"q": "y"}
    # and in YAML, both ways (wsk's --format yaml, a .yaml --config-file)
    as_yaml = ok(stack, "api", "get", base, "--format", "YAML")
    assert yaml.safe_load(as_yaml) == json.loads(ok(stack, "api", "get", base))
    ok(stack, "api", "delete", base)
    config = tmp_path / "api.yaml"
    config.write_text(as_yaml)
    assert ok(stack, "api", "create", "--config-file", str(config)).splitlines() == [
        f"ok: created API {base}/books get for action /guest/{unique}", url]
    with httpx.Client(timeout=90.0) as anonymous:
        assert anonymous.get(url, params={"q": "z"}).json() == {"q": "z"}
    ok(stack, "api", "delete", base)
    ok(stack, "action", "delete", unique)
    ok(stack, "action", "delete", f"{unique}-plain")
