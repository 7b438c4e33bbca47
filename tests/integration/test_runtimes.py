"""Every kind of action through the real stack: Python zip with a virtualenv, Node.js plain and zip, Go, Java,
PHP, Ruby and Rust in the action loop (source, zips, a compile error, a prebuilt executable), blackbox on the
dockerskeleton stand-in, and a deprecated kind refused on invoke and update."""

from __future__ import annotations

import base64
import importlib.metadata
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.stack import start, stop, wait_ready
from tests.conftest import free_port
from tests.integration.conftest import Stack
from tests.integration.helpers import invoke, put_action, wait_for_record

pytestmark = pytest.mark.integration

RUNTIMES_DIR = Path(__file__).resolve().parents[2] / "runtimes"
SQUALL = str(Path(sys.executable).with_name("squall"))


def zip_folder(folder: Path) -> str:
    """The folder as `zip -r` without -y would store it, minus symlinks (a venv's bin/python)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, _dirs, files in os.walk(folder):  # does not descend into symlinked folders
            for name in sorted(files):
                path = Path(root) / name
                if not path.is_symlink():
                    archive.write(path, path.relative_to(folder).as_posix())
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def zip_files(files: dict[str, str]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def annotations(activation: dict[str, object]) -> dict[str, object]:
    return {a["key"]: a["value"] for a in activation["annotations"]}  # type: ignore[index, union-attr]


# --- Python -------------------------------------------------------------------------------------------


def test_python_zip_with_a_virtualenv(api: httpx.Client, unique: str, tmp_path: Path) -> None:
    """A zip laid out as OpenWhisk documents it: __main__.py at the top, a real virtualenv beside it
    holding a real package (click, copied from our own environment as pip would have installed it)."""
    action = tmp_path / "action"
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
    (action / "__main__.py").write_text(
        "import importlib.metadata\nimport click\nfrom helper import shout\n\n"
        "def handler(args):\n"
        "    return {'said': shout(args['w']), 'click': importlib.metadata.version('click'),\n"
        "            'venv': '/virtualenv/' in click.__file__}\n")
    (action / "helper.py").write_text("def shout(w):\n    return w.upper()\n")
    response = api.put(f"/api/v1/namespaces/_/actions/{unique}",
                       json={"exec": {"kind": "python:default", "code": zip_folder(action), "main": "handler"}})
    assert response.status_code == 200, response.text
    stored = api.get(f"/api/v1/namespaces/_/actions/{unique}").json()
    assert stored["exec"]["binary"] is True and stored["exec"]["main"] == "handler"
    response = invoke(api, unique, {"w": "venv"}, blocking="true", result="true")
    assert response.status_code == 200, response.text
    assert response.json() == {"said": "VENV", "click": dist.version, "venv": True}


# --- Node.js ------------------------------------------------------------------------------------------


def test_nodejs_plain_action(api: httpx.Client, unique: str) -> None:
    code = ("function main(params) {\n"
            "  console.log('hello from', process.env.__OW_ACTION_NAME);\n"
            "  return {greeting: 'Hello ' + (params.name || 'stranger'), api: process.env.__OW_API_HOST};\n"
            "}\n")
    put_action(api, unique, code, kind="nodejs:default")
    first = invoke(api, unique, {"name": "node"}, blocking="true")
    assert first.status_code == 200, first.text
    activation = first.json()
    assert activation["response"]["result"]["greeting"] == "Hello node"
    assert activation["response"]["result"]["api"].startswith("http")
    assert annotations(activation)["kind"] == "nodejs:18"
    assert annotations(activation)["limits"]["concurrency"] == 1  # type: ignore[index]
    record = wait_for_record(api, activation["activationId"])
    assert [line[31:] for line in record["logs"]] == [f"stdout: hello from /guest/{unique}"]
    warm = invoke(api, unique, {}, blocking="true").json()
    assert warm["response"]["result"]["greeting"] == "Hello stranger"


def test_nodejs_zip_action_with_node_modules(api: httpx.Client, unique: str) -> None:
    code = zip_files({
        "package.json": json.dumps({"name": unique, "main": "src/action.js"}),
        "src/action.js": ("const shout = require('shout');\n"
                          "exports.handler = async (params) => ({said: await shout(params.w)});\n"),
        "node_modules/shout/package.json": json.dumps({"name": "shout", "main": "lib/shout.js"}),
        "node_modules/shout/lib/shout.js": "module.exports = async (w) => w.toUpperCase() + '!';\n",
    })
    api.put(f"/api/v1/namespaces/_/actions/{unique}",
            json={"exec": {"kind": "nodejs:18", "code": code, "main": "handler"}}).raise_for_status()
    response = invoke(api, unique, {"w": "zip"}, blocking="true", result="true")
    assert response.status_code == 200, response.text
    assert response.json() == {"said": "ZIP!"}


def test_nodejs_exception_is_an_application_error_with_the_stack_logged(api: httpx.Client, unique: str) -> None:
    put_action(api, unique, "function main() { throw new Error('node boom'); }\n", kind="nodejs:default")
    response = invoke(api, unique, {}, blocking="true")
    assert response.status_code == 502
    activation = response.json()
    assert activation["response"]["status"] == "application error"
    assert activation["response"]["result"] == {"error": "node boom"}
    record = wait_for_record(api, activation["activationId"])
    assert any("stderr: Error: node boom" in line for line in record["logs"])


# --- blackbox -----------------------------------------------------------------------------------------


def test_blackbox_action_on_the_skeleton_image(api: httpx.Client, unique: str) -> None:
    """``wsk action create X --docker openwhisk/dockerskeleton exec.zip``: no registry is reachable
    here, so this runs because `squall runtimes build` made the image under its public name."""
    script = ("#!/bin/sh\n"
              "echo \"args: $1\"\n"
              "echo \"{\\\"msg\\\": \\\"hello from exec\\\", \\\"ns\\\": \\\"$__OW_NAMESPACE\\\"}\"\n")
    code = zip_files({"exec": script})
    response = api.put(f"/api/v1/namespaces/_/actions/{unique}",
                       json={"exec": {"kind": "blackbox", "image": "openwhisk/dockerskeleton", "code": code}})
    assert response.status_code == 200, response.text
    assert response.json()["exec"]["image"] == "openwhisk/dockerskeleton"
    first = invoke(api, unique, {"k": "v"}, blocking="true")
    assert first.status_code == 200, first.text
    activation = first.json()
    assert activation["response"]["result"] == {"msg": "hello from exec", "ns": "guest"}
    assert annotations(activation)["kind"] == "blackbox"
    record = wait_for_record(api, activation["activationId"])
    assert [line[31:] for line in record["logs"]] == ['stdout: args: {"k": "v"}']


def test_cli_native_and_docker_create_blackbox_actions(api: httpx.Client, stack: Stack, unique: str,
                                                       tmp_path: Path) -> None:
    env = {**stack.env, "SQUALL_CLIENT_APIHOST": stack.url, "SQUALL_CLIENT_AUTH": ":".join(stack.guest)}

    def squall(*args: str) -> str:
        done = subprocess.run([SQUALL, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"squall {' '.join(args)}: {done.stdout}\n{done.stderr}"
        return done.stdout

    archive = tmp_path / "exec.zip"
    archive.write_bytes(base64.b64decode(zip_files({"exec": "#!/bin/sh\necho '{\"native\": true}'\n"})))
    squall("action", "create", unique, str(archive), "--native")
    assert json.loads(squall("action", "invoke", unique, "-r")) == {"native": True}
    squall("action", "create", f"{unique}b", "--docker", "openwhisk/dockerskeleton")
    stored = api.get(f"/api/v1/namespaces/_/actions/{unique}b").json()
    assert stored["exec"] == {"kind": "blackbox", "image": "openwhisk/dockerskeleton", "binary": False}


def test_blackbox_without_code_runs_the_image_s_own_executable(api: httpx.Client, unique: str) -> None:
    response = api.put(f"/api/v1/namespaces/_/actions/{unique}",
                       json={"exec": {"kind": "blackbox", "image": "openwhisk/dockerskeleton:nightly"}})
    assert response.status_code == 200, response.text
    activation = invoke(api, unique, {}, blocking="true").json()
    assert activation["response"]["status"] == "application error"
    assert "stub action" in activation["response"]["result"]["error"]


def test_blackbox_image_that_is_nowhere_is_a_developer_error(api: httpx.Client, unique: str) -> None:
    image = f"squall-test/{unique}:missing"
    api.put(f"/api/v1/namespaces/_/actions/{unique}",
            json={"exec": {"kind": "blackbox", "image": image}}).raise_for_status()
    activation = invoke(api, unique, {}, blocking="true").json()
    assert activation["response"]["status"] == "action developer error"
    assert activation["response"]["result"] == {"error": f"Failed to pull container image '{image}'."}


# --- the action loop: Go, Ruby, PHP ------------------------------------------------------------------

GO_HELLO = ("package main\n\nimport \"fmt\"\n\n"
            "func Main(obj map[string]interface{}) map[string]interface{} {\n"
            "\tfmt.Println(\"hello from\", obj[\"name\"])\n"
            "\treturn map[string]interface{}{\"greeting\": \"Hello \" + obj[\"name\"].(string)}\n}\n")


def test_go_action_from_source_compiled_at_init(api: httpx.Client, unique: str) -> None:
    put_action(api, unique, GO_HELLO, kind="go:default")
    first = invoke(api, unique, {"name": "gopher"}, blocking="true")
    assert first.status_code == 200, first.text
    activation = first.json()
    assert activation["response"]["result"] == {"greeting": "Hello gopher"}
    assert annotations(activation)["kind"] == "go:1.19" and "initTime" in annotations(activation)
    record = wait_for_record(api, activation["activationId"])
    assert [line[31:] for line in record["logs"]] == ["stdout: hello from gopher"]
    warm = invoke(api, unique, {"name": "again"}, blocking="true").json()
    assert warm["response"]["result"] == {"greeting": "Hello again"} and "initTime" not in annotations(warm)


def test_go_zip_of_several_files_with_another_main(api: httpx.Client, unique: str) -> None:
    code = zip_files({
        "main.go": ("package main\n\nfunc Hello(obj map[string]interface{}) map[string]interface{} {\n"
                    "\treturn map[string]interface{}{\"said\": shout(obj[\"w\"].(string))}\n}\n"),
        "shout.go": ("package main\n\nimport \"strings\"\n\n"
                     "func shout(w string) string { return strings.ToUpper(w) + \"!\" }\n"),
    })
    api.put(f"/api/v1/namespaces/_/actions/{unique}",
            json={"exec": {"kind": "go:1.19", "code": code, "binary": True, "main": "hello"}}).raise_for_status()
    response = invoke(api, unique, {"w": "zip"}, blocking="true", result="true")
    assert response.status_code == 200, response.text
    assert response.json() == {"said": "ZIP!"}


def test_go_compile_error_is_an_init_error_with_the_compiler_s_message_in_the_logs(api: httpx.Client,
                                                                                  unique: str) -> None:
    put_action(api, unique, "package main\n\nfunc Main(obj map[string]interface{}) map[string]interface{} {\n",
               kind="go:1.19")
    response = invoke(api, unique, {}, blocking="true")
    assert response.status_code == 502, response.text
    activation = response.json()
    assert activation["response"]["status"] == "action developer error"
    assert activation["response"]["result"] == {
        "error": "The action failed to generate or locate a binary. See logs for details."}
    record = wait_for_record(api, activation["activationId"])
    assert any("syntax error" in line for line in record["logs"]), record["logs"]


def test_a_zip_with_an_executable_exec_runs_without_compiling(api: httpx.Client, unique: str) -> None:
    """Any executable that speaks the action loop (here a Python script in the Go image) runs as it is."""
    loop = ("#!/usr/bin/env python3\nimport json, os, sys\n"
            "out = os.fdopen(3, 'w')\nout.write('{\"ok\": true}\\n'); out.flush()\n"
            "for line in sys.stdin:\n"
            "    request = json.loads(line)\n"
            "    print('prebuilt', request['value'].get('n'), flush=True)\n"
            "    out.write(json.dumps({'n': request['value'].get('n'), 'ns': request['namespace']}) + '\\n')\n"
            "    out.flush()\n")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("exec")
        info.external_attr = 0o755 << 16
        archive.writestr(info, loop)
    code = base64.b64encode(buffer.getvalue()).decode("ascii")
    api.put(f"/api/v1/namespaces/_/actions/{unique}",
            json={"exec": {"kind": "go:1.19", "code": code, "binary": True}}).raise_for_status()
    activation = invoke(api, unique, {"n": 7}, blocking="true").json()
    assert activation["response"]["result"] == {"n": 7, "ns": "guest"}
    record = wait_for_record(api, activation["activationId"])
    assert [line[31:] for line in record["logs"]] == ["stdout: prebuilt 7"]


def test_ruby_zip_with_a_helper_and_logs_from_both_streams(api: httpx.Client, unique: str) -> None:
    code = zip_files({
        "main.rb": ("require_relative 'shout'\n\ndef handler(params)\n  puts \"out #{params['w']}\"\n"
                    "  warn \"err #{params['w']}\"\n  { 'said' => shout(params['w']) }\nend\n"),
        "shout.rb": "def shout(word)\n  \"#{word.upcase}!\"\nend\n",
    })
    api.put(f"/api/v1/namespaces/_/actions/{unique}",
            json={"exec": {"kind": "ruby:default", "code": code, "binary": True, "main": "handler"}}
            ).raise_for_status()
    activation = invoke(api, unique, {"w": "ruby"}, blocking="true").json()
    assert activation["response"]["result"] == {"said": "RUBY!"}
    assert annotations(activation)["kind"] == "ruby:3.1"
    record = wait_for_record(api, activation["activationId"])
    assert sorted(line[31:] for line in record["logs"]) == ["stderr: err ruby", "stdout: out ruby"]


def test_php_zip_with_a_helper_and_an_exception_as_an_application_error(api: httpx.Client, unique: str) -> None:
    code = zip_files({
        "index.php": ("<?php\nrequire __DIR__ . '/shout.php';\n"
                      "function main(array $args): array {\n"
                      "  if (isset($args['fail'])) { throw new RuntimeException('php boom'); }\n"
                      "  return ['said' => shout($args['w'])];\n}\n"),
        "shout.php": "<?php\nfunction shout(string $w): string { return strtoupper($w) . '!'; }\n",
    })
    api.put(f"/api/v1/namespaces/_/actions/{unique}",
            json={"exec": {"kind": "php:8.2", "code": code, "binary": True}}).raise_for_status()
    assert invoke(api, unique, {"w": "php"}, blocking="true", result="true").json() == {"said": "PHP!"}
    response = invoke(api, unique, {"fail": 1}, blocking="true")
    assert response.status_code == 502
    activation = response.json()
    assert activation["response"]["status"] == "application error"
    assert activation["response"]["result"] == {"error": "php boom"}
    record = wait_for_record(api, activation["activationId"])
    assert any("RuntimeException: php boom" in line for line in record["logs"])


def test_java_jar_with_a_package_class_and_method_named_by_main(api: httpx.Client, unique: str) -> None:
    from tests.contract.runtime_code import java_jar

    jar = java_jar("package com.example;\n\nimport com.google.gson.JsonObject;\n\npublic class Greeter {\n"
                   "    public static JsonObject greet(JsonObject args) {\n"
                   "        System.out.println(\"greeting \" + args.get(\"name\").getAsString());\n"
                   "        JsonObject r = new JsonObject();\n"
                   "        r.addProperty(\"greeting\", \"Hello \" + args.get(\"name\").getAsString());\n"
                   "        r.addProperty(\"ns\", System.getenv(\"__OW_NAMESPACE\"));\n        return r;\n    }\n}\n")
    api.put(f"/api/v1/namespaces/_/actions/{unique}",
            json={"exec": {"kind": "java:default", "code": jar, "binary": True, "main": "com.example.Greeter#greet"}}
            ).raise_for_status()
    activation = invoke(api, unique, {"name": "duke"}, blocking="true").json()
    assert activation["response"]["result"] == {"greeting": "Hello duke", "ns": "guest"}
    assert annotations(activation)["kind"] == "java:17"
    record = wait_for_record(api, activation["activationId"])
    assert [line[31:] for line in record["logs"]] == ["stdout: greeting duke"]


def test_rust_action_with_serde_derive_and_an_error_result(api: httpx.Client, unique: str) -> None:
    code = ("use serde_derive::{Deserialize, Serialize};\nuse serde_json::{Error, Value};\n\n"
            "#[derive(Deserialize)]\nstruct Input {\n    name: String,\n}\n\n"
            "#[derive(Serialize)]\nstruct Output {\n    greeting: String,\n}\n\n"
            "pub fn main(args: Value) -> Result<Value, Error> {\n"
            "    let input: Input = serde_json::from_value(args)?;\n"
            "    eprintln!(\"greeting {}\", input.name);\n"
            "    serde_json::to_value(Output { greeting: format!(\"Hello {}\", input.name) })\n}\n")
    put_action(api, unique, code, kind="rust:default")
    activation = invoke(api, unique, {"name": "ferris"}, blocking="true").json()
    assert activation["response"]["result"] == {"greeting": "Hello ferris"}
    record = wait_for_record(api, activation["activationId"])
    assert [line[31:] for line in record["logs"]] == ["stderr: greeting ferris"]
    response = invoke(api, unique, {"nom": "typo"}, blocking="true")  # the ? turns serde's error into the result
    assert response.status_code == 502
    assert response.json()["response"]["status"] == "application error"
    assert response.json()["response"]["result"] == {"error": "missing field `name`"}


# --- the manifest -------------------------------------------------------------------------------------


def test_root_lists_every_family_with_its_default(stack: Stack) -> None:
    runtimes = httpx.get(stack.url + "/").json()["runtimes"]
    defaults = {family: [k["kind"] for k in kinds if k["default"]] for family, kinds in runtimes.items()}
    assert defaults == {"python": ["python:3"], "nodejs": ["nodejs:18"], "go": ["go:1.19"], "ruby": ["ruby:3.1"],
                        "php": ["php:8.2"], "java": ["java:17"], "rust": ["rust:1.63"]}
    assert runtimes["nodejs"][0]["image"] == "squall/action-nodejs-v18:latest"


@pytest.fixture
def deprecating_controller(stack: Stack, tmp_path: Path) -> Iterator[str]:
    """A second controller on the same database whose manifest marks python:3 deprecated: what an
    operator does when a kind is retired while actions of it still exist."""
    manifest = json.loads((RUNTIMES_DIR / "manifest.json").read_text())
    for entry in manifest["runtimes"]["python"]:
        entry["deprecated"] = True
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    port = free_port()
    env = {**stack.env, "SQUALL_RUNTIMES_MANIFEST": str(path), "SQUALL_CONTROLLER_PORT": str(port)}
    log = tmp_path / "controller.log"
    process = start(env, log, "controller")
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(url + "/ping", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_ready(up, "deprecating controller", [process], log)
        yield url
    finally:
        stop(process)


def test_deprecated_kind_can_be_read_and_deleted_but_not_invoked_or_updated(
        api: httpx.Client, stack: Stack, deprecating_controller: str, unique: str) -> None:
    put_action(api, unique, "def main(args):\n    return {'old': True}\n", kind="python:3")
    message = ("The 'python:3' runtime is no longer supported. "
               "You may read and delete but not update or invoke this action.")
    with httpx.Client(base_url=deprecating_controller, auth=stack.guest, timeout=90.0) as old:
        path = f"/api/v1/namespaces/_/actions/{unique}"
        got = old.get(path)
        assert got.status_code == 200 and got.json()["exec"]["kind"] == "python:3"
        invoked = old.post(path, params={"blocking": "true"}, json={})
        assert invoked.status_code == 400 and invoked.json()["error"] == message
        updated = old.put(path, params={"overwrite": "true"}, json={"parameters": [{"key": "a", "value": 1}]})
        assert updated.status_code == 400 and updated.json()["error"] == message
        rewritten = old.put(path, params={"overwrite": "true"},
                            json={"exec": {"kind": "python:3", "code": "def main(a):\n    return a\n"}})
        assert rewritten.status_code == 400 and rewritten.json()["error"] == message
        created = old.put(f"/api/v1/namespaces/_/actions/{unique}new",
                          json={"exec": {"kind": "python:default", "code": "def main(a):\n    return a\n"}})
        assert created.status_code == 400 and created.json()["error"] == message
        assert old.delete(path).status_code == 200
        assert old.get(path).status_code == 404
