"""The ``squall package``/``trigger``/``rule``/``namespace`` verbs and ``action create --sequence``, run as a user
runs them (the console script as a subprocess) against the real stack."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from bench.stack import SQUALL
from tests.integration.conftest import Stack
from tests.integration.squall_cli import json_after_ok_line, ok, squall

pytestmark = pytest.mark.integration

RECORD_DEADLINE_S = 30.0
# the arguments without __ow_headers (a trigger's action gets the fire's headers too)
ECHO = "def main(args):\n    return {k: v for k, v in args.items() if not k.startswith('__')}\n"
INTERVAL = "/whisk.system/alarms/interval"


@pytest.fixture(scope="module")
def catalog(stack: Stack) -> None:
    subprocess.run([SQUALL, "admin", "catalog", "install"], env=stack.env, check=True, capture_output=True,
                   timeout=120)


@pytest.fixture
def echo_file(tmp_path: Path) -> Path:
    path = tmp_path / "echo.py"
    path.write_text(ECHO)
    return path


def rows(listing: str, title: str) -> dict[str, list[str]]:
    """A listing's rows by their first column (the full name), title and header checked."""
    lines = listing.splitlines()
    assert lines[0] == title, listing
    assert len(lines) == 1 or lines[1].startswith("NAME"), listing
    return {line.split()[0]: line.split()[1:] for line in lines[2:]}


def fails(stack: Stack, *args: str) -> str:
    """The command exits with an HTTP error's code (wsk's status - 256, 144 for 400 and up) with nothing on stdout;
    its stderr (the server's message)."""
    done = squall(stack, *args)
    assert done.returncode >= 144 and done.stdout == "", f"{args}: {done.returncode} {done.stdout} {done.stderr}"
    return done.stderr


def activations_of(stack: Stack, name: str, count: int) -> list[str]:
    """The ids of ``name``'s activations once ``count`` of them are stored, newest first."""
    deadline = time.monotonic() + RECORD_DEADLINE_S
    while True:
        listing = ok(stack, "activation", "list", name, "--limit", "50").splitlines()
        ids = [line.split()[2] for line in listing[2:]]  # after the date and time columns
        if len(ids) >= count:
            return ids
        assert time.monotonic() < deadline, f"{name} has {len(ids)} activation(s), not {count}"
        time.sleep(0.2)


def test_package_with_an_action_and_a_binding(stack: Stack, catalog: None, unique: str, echo_file: Path) -> None:
    assert ok(stack, "package", "create", unique, "-p", "greeting", "hi", "--shared", "yes").strip() \
        == f"ok: created package {unique}"
    ok(stack, "action", "create", f"{unique}/echo", str(echo_file), "-p", "own", "1")
    assert ok(stack, "package", "bind", unique, f"{unique}-b", "-p", "extra", "[1, 2]").strip() \
        == f"ok: created binding {unique}-b"

    listed = rows(ok(stack, "action", "list", "--limit", "200"), "actions")
    assert listed[f"/guest/{unique}/echo"] == ["private", "python:3", "0.0.1"]
    assert list(rows(ok(stack, "action", "list", unique), "actions")) == [f"/guest/{unique}/echo"]
    assert list(rows(ok(stack, "action", "list", f"/guest/{unique}-b"), "actions")) == [f"/guest/{unique}/echo"]

    # the package's, the binding's and the action's parameters, and the payload
    result = json.loads(ok(stack, "action", "invoke", f"{unique}-b/echo", "-r", "-p", "n", "3"))
    assert result == {"greeting": "hi", "extra": [1, 2], "own": 1, "n": 3}

    got = json_after_ok_line(ok(stack, "package", "get", f"{unique}-b"))
    assert isinstance(got, dict)
    assert got["binding"] == {"namespace": "guest", "name": unique}
    # a binding shows the bound package's parameters under its own
    assert got["parameters"] == [{"key": "greeting", "value": "hi"}, {"key": "extra", "value": [1, 2]}]
    summary = ok(stack, "package", "get", unique, "--summary").splitlines()  # wsk's summary lines
    assert summary == [f"package /guest/{unique}: Returns a result based on parameter greeting",
                       "   (parameters: *greeting)", f" action /guest/{unique}/echo", "   (parameters: none defined)"]

    packages = rows(ok(stack, "package", "list", "--limit", "200"), "packages")
    assert packages[f"/guest/{unique}"] == ["shared"]
    assert packages[f"/guest/{unique}-b"] == ["private", f"/guest/{unique}"]

    # another namespace sees guest's shared package, not its bindings, and binds it
    other = ("--auth", ":".join(stack.other))
    seen = rows(ok(stack, "package", "list", "/guest", "--limit", "200", *other), "packages")
    assert f"/guest/{unique}" in seen and f"/guest/{unique}-b" not in seen
    ok(stack, "package", "bind", f"/guest/{unique}", f"{unique}-o", *other)
    assert json.loads(ok(stack, "action", "invoke", f"{unique}-o/echo", "-r", *other)) == {"greeting": "hi",
                                                                                          "own": 1}
    ok(stack, "package", "delete", f"{unique}-o", *other)

    # the catalog's public packages, listed from guest's namespace
    system = rows(ok(stack, "package", "list", "/whisk.system"), "packages")
    assert system["/whisk.system/utils"] == ["shared"] and system["/whisk.system/alarms"] == ["shared"]

    assert ok(stack, "package", "update", unique, "--shared", "no").strip() == f"ok: updated package {unique}"
    got = json_after_ok_line(ok(stack, "package", "get", unique))
    assert isinstance(got, dict) and got["publish"] is False
    assert got["parameters"] == [{"key": "greeting", "value": "hi"}]  # not given, so kept

    assert "Package not empty (contains 1 entities)" in fails(stack, "package", "delete", unique)
    ok(stack, "action", "delete", f"{unique}/echo")
    assert ok(stack, "package", "delete", f"{unique}-b").strip() == f"ok: deleted package {unique}-b"
    ok(stack, "package", "delete", unique)
    assert "The requested resource does not exist." in fails(stack, "package", "get", unique)


def test_trigger_fires_an_action_through_a_rule(stack: Stack, unique: str, echo_file: Path) -> None:
    ok(stack, "action", "create", unique, str(echo_file))
    assert ok(stack, "trigger", "create", f"{unique}-t", "-p", "base", "1").strip() \
        == f"ok: created trigger {unique}-t"
    assert ok(stack, "rule", "create", f"{unique}-r", f"{unique}-t", unique).strip() \
        == f"ok: created rule {unique}-r"
    assert ok(stack, "rule", "status", f"{unique}-r").strip() == f"ok: rule {unique}-r is active"

    fired = ok(stack, "trigger", "fire", f"{unique}-t", "-p", "n", "2").strip()
    prefix = f"ok: triggered /_/{unique}-t with id "
    assert fired.startswith(prefix) and len(fired[len(prefix):]) == 32
    trigger_activation = fired[len(prefix):]
    (action_activation,) = activations_of(stack, unique, 1)
    # the trigger's parameters under the fire's payload reach the action
    assert json.loads(ok(stack, "activation", "result", action_activation)) == {"base": 1, "n": 2}
    record = json_after_ok_line(ok(stack, "activation", "get", trigger_activation))
    assert isinstance(record, dict) and record["name"] == f"{unique}-t"
    assert action_activation in " ".join(record["logs"])  # the rule's line names the action's activation

    rule = json_after_ok_line(ok(stack, "rule", "get", f"{unique}-r"))
    assert isinstance(rule, dict)
    assert rule["trigger"] == {"path": "guest", "name": f"{unique}-t"}
    assert rule["action"] == {"path": "guest", "name": unique} and rule["status"] == "active"
    assert rows(ok(stack, "rule", "list", "--limit", "200"), "rules")[f"/guest/{unique}-r"] == [
        f"/guest/{unique}-t", f"/guest/{unique}"]
    trigger = json_after_ok_line(ok(stack, "trigger", "get", f"{unique}-t"))
    assert isinstance(trigger, dict)
    assert trigger["parameters"] == [{"key": "base", "value": 1}]
    assert trigger["rules"][f"guest/{unique}-r"]["status"] == "active"
    assert rows(ok(stack, "trigger", "list", "--limit", "200"), "triggers")[f"/guest/{unique}-t"] == ["private"]

    assert ok(stack, "rule", "disable", f"{unique}-r").strip() == f"ok: disabled rule {unique}-r"
    assert ok(stack, "rule", "status", f"{unique}-r").strip() == f"ok: rule {unique}-r is inactive"
    assert ok(stack, "trigger", "fire", f"{unique}-t").strip() \
        == f"ok: triggered /_/{unique}-t, but it has no active rule: nothing ran"
    assert ok(stack, "rule", "enable", f"{unique}-r").strip() == f"ok: enabled rule {unique}-r"

    ok(stack, "trigger", "update", f"{unique}-t", "-p", "base", "5")
    ok(stack, "trigger", "fire", f"{unique}-t")
    latest = activations_of(stack, unique, 2)[0]
    assert json.loads(ok(stack, "activation", "result", latest)) == {"base": 5}

    assert "does not exist" in fails(stack, "rule", "create", f"{unique}-r2", f"{unique}-missing", unique)
    assert ok(stack, "trigger", "delete", f"{unique}-t").strip() == f"ok: deleted trigger {unique}-t"
    assert ok(stack, "rule", "status", f"{unique}-r").strip() == f"ok: rule {unique}-r is inactive"
    assert ok(stack, "rule", "delete", f"{unique}-r", "--disable").strip() == f"ok: deleted rule {unique}-r"
    fails(stack, "rule", "get", f"{unique}-r")
    ok(stack, "action", "delete", unique)


def test_sequence_from_the_command_line(stack: Stack, unique: str, tmp_path: Path) -> None:
    step = tmp_path / "step.py"
    step.write_text("def main(args):\n    return {'n': args.get('n', 0) * 10 + args.get('add', 0)}\n")
    ok(stack, "action", "create", f"{unique}-a", str(step), "-p", "add", "1")
    ok(stack, "package", "create", unique)
    ok(stack, "action", "create", f"{unique}/b", str(step), "-p", "add", "2")
    assert ok(stack, "action", "create", f"{unique}-s", "--sequence", f"{unique}-a,{unique}/b").strip() \
        == f"ok: created action {unique}-s"

    entity = json_after_ok_line(ok(stack, "action", "get", f"{unique}-s"))
    assert isinstance(entity, dict)
    assert entity["exec"]["kind"] == "sequence"
    assert entity["exec"]["components"] == [f"/guest/{unique}-a", f"/guest/{unique}/b"]
    assert json.loads(ok(stack, "action", "invoke", f"{unique}-s", "-r", "-p", "n", "3")) == {"n": 312}
    assert rows(ok(stack, "action", "list", "--limit", "200"), "actions")[f"/guest/{unique}-s"][:2] == [
        "private", "sequence"]

    ok(stack, "action", "update", f"{unique}-s", "--sequence", f"{unique}/b")
    assert json.loads(ok(stack, "action", "invoke", f"{unique}-s", "-r", "-p", "n", "3")) == {"n": 32}
    assert "--sequence" in squall(stack, "action", "create", "x", "--sequence", "a", "--kind", "python:3").stderr
    for name in (f"{unique}-s", f"{unique}-a", f"{unique}/b"):
        ok(stack, "action", "delete", name)
    ok(stack, "package", "delete", unique)


def test_alarm_feed_trigger_lifecycle(stack: Stack, catalog: None, api: httpx.Client, unique: str) -> None:
    alarm = f"/api/v1/namespaces/_/alarms/{unique}"
    created = ok(stack, "trigger", "create", unique, "--feed", INTERVAL, "-p", "minutes", "5",
                 "-p", "trigger_payload", '{"tick": true}').splitlines()
    assert created[0].startswith(f"ok: invoked {INTERVAL} with id ")
    assert created[1] == f"ok: created trigger {unique}"
    # the feed action ran in a container and registered the schedule with guest's key
    config = api.get(alarm).json()["config"]
    assert config["namespace"] == "guest" and config["name"] == unique
    assert config["minutes"] == 5 and config["trigger_payload"] == {"tick": True}
    read = ok(stack, "trigger", "get", unique).splitlines()  # as wsk: the feed is asked (READ), its answer shown
    assert read[0].startswith(f"ok: invoked {INTERVAL} with id ")
    assert json.loads("\n".join(read[1:]))["response"]["result"]["config"]["minutes"] == 5
    trigger = json.loads(ok(stack, "trigger", "get", unique, "--json"))  # the trigger itself
    assert {"key": "feed", "value": INTERVAL} in trigger["annotations"]
    assert trigger["parameters"] == []  # -p went to the feed, not the trigger
    assert rows(ok(stack, "trigger", "list", "--limit", "200"), "triggers")[f"/guest/{unique}"] == [
        "private", INTERVAL]

    ok(stack, "trigger", "update", unique, "-p", "minutes", "7")  # an UPDATE to the feed
    assert api.get(alarm).json()["config"]["minutes"] == 7
    ok(stack, "trigger", "update", unique, "-a", "note", "x")  # annotations replace the old ones, but the feed's
    trigger = json.loads(ok(stack, "trigger", "get", unique, "--json"))
    assert trigger["annotations"] == [{"key": "note", "value": "x"}, {"key": "feed", "value": INTERVAL}]

    assert ok(stack, "trigger", "delete", unique).strip() == f"ok: deleted trigger {unique}"
    assert api.get(alarm).status_code == 404  # the feed was told before the trigger went
    fails(stack, "trigger", "get", unique)


def test_feed_and_trigger_parameters_apart(stack: Stack, catalog: None, api: httpx.Client, unique: str) -> None:
    """wsk's -F/--feed-param and -T/--trigger-param: each value goes only where it says."""
    alarm = f"/api/v1/namespaces/_/alarms/{unique}"
    ok(stack, "trigger", "create", unique, "--feed", INTERVAL, "-F", "minutes", "3", "-T", "colour", "red")
    config = api.get(alarm).json()["config"]
    assert config["minutes"] == 3 and "colour" not in config
    trigger = json.loads(ok(stack, "trigger", "get", unique, "--json"))
    assert trigger["parameters"] == [{"key": "colour", "value": "red"}]

    ok(stack, "trigger", "update", unique, "-F", "minutes", "4")  # an UPDATE to the feed only
    assert api.get(alarm).json()["config"]["minutes"] == 4
    assert json.loads(ok(stack, "trigger", "get", unique, "--json"))["parameters"] == [
        {"key": "colour", "value": "red"}]
    ok(stack, "trigger", "update", unique, "-T", "colour", "blue")  # the trigger only; its feed stays
    trigger = json.loads(ok(stack, "trigger", "get", unique, "--json"))
    assert trigger["parameters"] == [{"key": "colour", "value": "blue"}]
    assert {"key": "feed", "value": INTERVAL} in trigger["annotations"]
    assert api.get(alarm).json()["config"]["minutes"] == 4

    for args in (("-p", "a", "1", "-F", "b", "2"), ("-F", "minutes", "1")):  # mixed with -p; -F without a feed
        done = squall(stack, "trigger", "create", f"{unique}-x", *args)
        assert done.returncode == 1 and done.stdout == "", done
    done = squall(stack, "trigger", "get", f"{unique}-x")
    assert done.returncode == 148  # neither was created
    ok(stack, "trigger", "create", f"{unique}-plain", "-T", "k", "v")
    done = squall(stack, "trigger", "update", f"{unique}-plain", "-F", "minutes", "1")
    assert done.returncode == 1 and "does not contain a feed" in done.stderr, done
    ok(stack, "trigger", "delete", f"{unique}-plain")
    ok(stack, "trigger", "delete", unique)
    assert api.get(alarm).status_code == 404


def test_a_feed_that_cannot_be_read_leaves_trigger_get_showing_the_trigger(stack: Stack, unique: str,
                                                                            tmp_path: Path) -> None:
    feed = tmp_path / "feed.py"
    feed.write_text("def main(args):\n    return {'error': 'no READ here'} if args.get('lifecycleEvent') == 'READ' "
                    "else {}\n")
    ok(stack, "action", "create", f"{unique}-feed", str(feed))
    ok(stack, "trigger", "create", unique, "-a", "feed", f"/_/{unique}-feed")
    done = squall(stack, "trigger", "get", unique)
    assert done.returncode == 0, done
    assert f"warning: the feed /_/{unique}-feed could not be read" in done.stderr and "no READ here" in done.stderr
    trigger = json_after_ok_line(done.stdout)
    assert isinstance(trigger, dict) and trigger["name"] == unique
    ok(stack, "trigger", "delete", unique)


def test_a_failing_feed_leaves_no_trigger(stack: Stack, catalog: None, unique: str) -> None:
    error = fails(stack, "trigger", "create", unique, "--feed", INTERVAL, "-p", "minutes", "0")
    assert f"Unable to create trigger '{unique}': Unable to configure feed '{INTERVAL}'" in error
    assert "interval trigger feeds must specify 'minutes' as a positive integer" in error
    assert "The requested resource does not exist." in fails(stack, "trigger", "get", unique)


def test_namespace_list_and_get(stack: Stack, unique: str) -> None:
    assert ok(stack, "trigger", "update", unique).strip() == f"ok: created trigger {unique}"  # as wsk: none yet
    assert ok(stack, "namespace", "list").splitlines() == ["namespaces", "NAME", "guest"]
    got = ok(stack, "namespace", "get")
    assert got.startswith("Entities in namespace: default\npackages\n")
    assert f"/guest/{unique} " in got.split("\ntriggers\n")[1].split("\nrules")[0]
    ok(stack, "trigger", "delete", unique)
