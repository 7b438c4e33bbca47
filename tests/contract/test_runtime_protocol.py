"""The action runtime protocol against every runtime image
(https://github.com/apache/openwhisk/blob/master/docs/actions-new.md#action-interface).

``runtime`` is parametrized over every image the manifest has ``squall runtimes build`` make (see
conftest.py), so a new kind gets this suite for free; the test actions are in ``runtime_code.py``.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from tests.contract.conftest import RuntimeClient, RuntimeUnderTest
from tests.contract.runtime_code import (
    EXIT_ON_RUN_ERROR,
    GREETING,
    MISSING_MAIN,
    SYNTAX_ERROR,
    TRACEBACK_MARKERS,
    snippet,
)

pytestmark = pytest.mark.contract

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
NO_CODE = "Missing main/no code to execute."
NOT_A_DICT = "The action did not return a dictionary or array."
REINIT = "Cannot initialize the action more than once."
NOT_AN_ARGUMENT = "The action did not receive a dictionary or array as an argument."
Start = Callable[..., RuntimeClient]  # the `start` fixture: start(env=None) -> RuntimeClient


def zipped(files: dict[str, str], modes: dict[str, int] | None = None) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = ((modes or {}).get(name, 0o644) & 0xFFFF) << 16
            archive.writestr(info, text)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def initialized(start: Start, runtime: RuntimeUnderTest, name: str, **init: Any) -> RuntimeClient:
    proxy = start()
    reply = proxy.init(snippet(runtime, name), **init)
    assert (reply.status, reply.body) == (200, {"ok": True})
    return proxy


# --- /init ------------------------------------------------------------------------------------------


def test_hello_world(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = initialized(start, runtime, "hello")
    run = proxy.run({"name": "World"})
    assert (run.status, run.body) == (200, {"greeting": "Hello World!"})
    assert run.headers["Content-Type"] == "application/json"


def test_second_init_is_refused(start: Start, runtime: RuntimeUnderTest) -> None:
    """OpenWhisk's "fail to initialize a second time": 403 and the message in the logs (its proxies write it on
    stderr). Unlike them, ours then end the activation with the sentinels, as after any failed /init: the
    invoker's log collection stops there instead of waiting for them and adding "Log data might be missing"."""
    proxy = initialized(start, runtime, "echo")
    again = proxy.init(snippet(runtime, "second"))
    assert (again.status, again.body) == (403, {"error": REINIT})
    out, err = proxy.logs_with_sentinels(1)
    assert out == [SENTINEL]
    assert err == [REINIT, SENTINEL]
    assert proxy.run({"first": True}).body == {"first": True}


def test_reinit_allowed_by_proxy_allow_reinit(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = start(env={"PROXY_ALLOW_REINIT": "1"})
    assert proxy.init(snippet(runtime, "echo")).status == 200
    assert proxy.init(snippet(runtime, "second")).status == 200
    assert proxy.run({}).body == {"second": True}


@pytest.mark.parametrize("source", [None, ""], ids=["absent", "empty"])
def test_init_without_code(start: Start, runtime: RuntimeUnderTest, source: str | None) -> None:
    """OpenWhisk's "handle initialization with no code" and "with no content": ActionLoop (Python) and the
    Node.js runtime refuse an absent and an empty ``code`` alike, 403. The skeleton runs the executable baked into
    its image when there is no code; an empty code is an empty script that replaces it (its test "fail to run a
    bad script"): /init succeeds, and each /run (here with a ``null`` body, read as ``{}``) finds no result: 502,
    the reason on stdout."""
    proxy = start()
    init = proxy.init(source)
    if runtime.dialect != "exec":
        assert (init.status, init.body) == (403, {"error": NO_CODE})
        proxy.logs_with_sentinels(1)
        return
    assert (init.status, init.body) == (200, {"ok": True})
    if source is None:
        run = proxy.run({})
        assert run.status == 200 and "stub action" in run.body["error"]
        return
    run = proxy.post("/run", None)
    assert (run.status, run.body) == (502, {"error": NOT_A_DICT})
    out, _ = proxy.logs_with_sentinels(1)
    assert any("Exec format error" in line for line in out), out


@pytest.mark.dialects("python", "nodejs")
def test_run_before_init_is_an_error(start: Start, runtime: RuntimeUnderTest) -> None:
    run = start().run({})
    assert run.status in (403, 500)
    assert "error" in run.body


def test_syntax_error_fails_init(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = start()
    init = proxy.init(snippet(runtime, "syntax_error"))
    said, logged = SYNTAX_ERROR[runtime.dialect]
    assert init.status == 502
    assert said.lower() in init.body["error"].lower()
    out, err = proxy.logs_with_sentinels(1)
    assert logged in "\n".join(err)
    assert out[-1] == SENTINEL and err[-1] == SENTINEL


def test_missing_main_fails_init(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = start()
    init = proxy.init(snippet(runtime, "missing_main"))
    assert init.status == 502
    assert MISSING_MAIN.get(runtime.dialect, "main") in init.body["error"]
    proxy.logs_with_sentinels(1)


def test_exit_during_init_fails_init(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = start()
    init = proxy.init(snippet(runtime, "exit_on_init"))
    assert init.status == 502
    assert "exited" in init.body["error"]
    proxy.logs_with_sentinels(1)


def test_init_env_is_exported_before_the_code_loads(start: Start, runtime: RuntimeUnderTest) -> None:
    env = {"GREETING": "bonjour", "COUNT": 3, "__OW_NAMESPACE": "guest"}
    proxy = initialized(start, runtime, "env_at_load", env=env)
    assert proxy.run({}).body == {"GREETING": "bonjour", "COUNT": "3", "__OW_NAMESPACE": "guest"}


# --- /run -------------------------------------------------------------------------------------------


def test_null_run_body_is_an_empty_object(start: Start, runtime: RuntimeUnderTest) -> None:
    """OpenWhisk's reference proxy reads a ``null`` (or empty) /run body as ``{}``: no value, so ``{}``."""
    proxy = initialized(start, runtime, "echo")
    for body in (None, {}):
        run = proxy.post("/run", body)
        assert (run.status, run.body) == (200, {})
    proxy.logs_with_sentinels(2)


def test_value_that_is_not_an_object_is_refused(start: Start, runtime: RuntimeUnderTest) -> None:
    """OpenWhisk's skeleton test "respond with 404 for bad run argument": a ``value`` (or a whole body) that is
    neither an object nor an array never reaches the action; 404 and the reference proxy's message, nothing in
    the logs but each activation's sentinels. The proxy serves on."""
    proxy = initialized(start, runtime, "echo")
    bodies: list[Any] = [{"value": "A"}, {"value": 42}, {"value": True}, {"value": None}, "A", [{"value": {}}]]
    for body in bodies:
        run = proxy.post("/run", body)
        assert (run.status, run.body) == (404, {"error": NOT_AN_ARGUMENT}), body
    out, err = proxy.logs_with_sentinels(len(bodies))
    assert out == err == [SENTINEL] * len(bodies)
    assert proxy.run({"still": "serving"}).body == {"still": "serving"}


def test_non_dict_result_is_a_developer_error(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = initialized(start, runtime, "non_dict")
    run = proxy.run({})
    assert (run.status, run.body) == (502, {"error": NOT_A_DICT})
    proxy.logs_with_sentinels(1)


def test_exception_is_an_application_error(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = initialized(start, runtime, "raise")
    run = proxy.run({"fail": "x"})
    assert (run.status, run.body) == (200, {"error": "bad input: x"})
    out, err = proxy.logs_with_sentinels(1)
    assert out == [SENTINEL]
    stderr = "\n".join(err)
    for marker in TRACEBACK_MARKERS[runtime.dialect]:
        assert marker in stderr
        assert stderr.index(marker) < stderr.index(SENTINEL)
    assert proxy.run({}).body == {"fine": True}  # the container lives on


def test_unicode_in_code_params_logs_and_result(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = initialized(start, runtime, "unicode")
    run = proxy.run({"name": "Zoë 日本 🚀"})
    assert run.body == {"greeting": f"{GREETING} Zoë 日本 🚀"}
    out, _ = proxy.logs_with_sentinels(1)
    assert out == [f"log: {GREETING} Zoë 日本 🚀", SENTINEL]


def test_ow_variables_are_set_on_run(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = initialized(start, runtime, "ow_env")
    meta = {
        "activation_id": "a1b2c3",
        "namespace": "alice",
        "action_name": "/alice/pkg/act",
        "action_version": "0.0.2",
        "transaction_id": "tx-9",
        "deadline": "1700000000000",
        "api_key": "uuid:key",
    }
    env = proxy.run({"x": 1}, **meta).body
    assert env["__OW_ACTIVATION_ID"] == "a1b2c3"
    assert env["__OW_NAMESPACE"] == "alice"
    assert env["__OW_ACTION_NAME"] == "/alice/pkg/act"
    assert env["__OW_ACTION_VERSION"] == "0.0.2"
    assert env["__OW_TRANSACTION_ID"] == "tx-9"
    assert env["__OW_DEADLINE"] == "1700000000000"
    assert env["__OW_API_KEY"] == "uuid:key"
    assert "__OW_VALUE" not in env
    second = proxy.run({}, activation_id="d4e5f6").body
    assert second["__OW_ACTIVATION_ID"] == "d4e5f6"


def test_one_mib_argument_round_trips(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = initialized(start, runtime, "echo")
    blob = "é" * (512 * 1024)  # 1 MiB of UTF-8
    run = proxy.run({"blob": blob})
    assert run.status == 200
    assert run.body == {"blob": blob}


def test_array_arguments_and_results(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = initialized(start, runtime, "reverse")
    assert proxy.run([1, "two", {"three": 3}]).body == [{"three": 3}, "two", 1]
    assert proxy.run({"a": 1}).body == [{"a": 1}]


def test_one_sentinel_per_activation_after_the_output(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = initialized(start, runtime, "out_err")
    assert proxy.run({"n": 1}).status == 200
    assert proxy.run({"n": 2}).status == 200
    out, err = proxy.logs_with_sentinels(2)
    assert out == ["out 1", SENTINEL, "out 2", SENTINEL]
    assert err == ["err 1", SENTINEL, "err 2", SENTINEL]


@pytest.mark.parametrize("how", ["exit_on_run", "killed_on_run"], ids=["exit", "killed"])
def test_exit_during_run_is_a_developer_error(start: Start, runtime: RuntimeUnderTest, how: str) -> None:
    proxy = initialized(start, runtime, how)
    run = proxy.run({})
    assert (run.status, run.body) == (502, {"error": EXIT_ON_RUN_ERROR[runtime.dialect]})
    out, err = proxy.logs_with_sentinels(1)
    assert out[0] == "about to exit"
    assert out[-1] == SENTINEL and out.count(SENTINEL) == 1
    assert err[-1] == SENTINEL and err.count(SENTINEL) == 1


def test_action_cannot_read_the_protocol_from_stdin(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = initialized(start, runtime, "read_stdin")
    assert proxy.run({}).body == {"stdin": ""}
    assert proxy.run({"again": 1}).body == {"stdin": ""}


def test_keep_alive_many_runs_on_one_connection(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = initialized(start, runtime, "echo")
    sock = proxy.connection.sock
    assert sock is not None
    for n in range(20):
        run = proxy.run({"n": n})
        assert (run.status, run.body) == (200, {"n": n})
        assert int(run.headers["Content-Length"]) == len(run.raw)
        assert proxy.connection.sock is sock  # no reconnect happened


def test_proxy_settings_come_from_the_environment(start: Start, runtime: RuntimeUnderTest) -> None:
    """PROXY_PORT and PROXY_WORK_DIR (the shared proxies' settings; a process factory moves them)."""
    if runtime.factory == "process":
        pytest.skip("the process factory sets PROXY_PORT and PROXY_WORK_DIR itself: every proxy it starts uses them")
    proxy = start(env={"PROXY_PORT": "9091", "PROXY_WORK_DIR": "/var/tmp"})
    assert proxy.init(snippet(runtime, "cwd")).status == 200
    cwd = proxy.run({}).body["cwd"]
    assert cwd.startswith("/var/tmp/action-")


@pytest.mark.concurrent_runtimes
def test_concurrent_runs_are_in_flight_together(start: Start, runtime: RuntimeUnderTest) -> None:
    """Each run waits until all are in flight: only a proxy that runs them at once lets any finish
    released (a fallback timer ends the wait, so a serial proxy fails instead of hanging)."""
    proxy = initialized(start, runtime, "together")
    clients = [proxy] + [RuntimeClient(proxy.read_logs, proxy.ip, proxy.port) for _ in range(2)]
    results: dict[int, Any] = {}

    def call(n: int) -> None:
        results[n] = clients[n].run({"n": n, "expect": len(clients)}, activation_id=f"act{n}").body

    threads = [threading.Thread(target=call, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {n: {"n": n, "released": True} for n in range(len(clients))}
    for client in clients[1:]:
        client.close()
    out, err = proxy.logs_with_sentinels(len(clients))
    assert out.count(SENTINEL) == err.count(SENTINEL) == len(clients)


@pytest.mark.dialects("nodejs")
def test_promise_results_and_rejections(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = initialized(start, runtime, "promise")
    assert proxy.run({"n": 7}).body == {"later": 7}
    run = proxy.run({"fail": "no"})
    assert (run.status, run.body) == (200, {"error": "async no"})
    _, err = proxy.logs_with_sentinels(2)
    assert "Error: async no" in "\n".join(err)


# --- zip actions, per dialect -----------------------------------------------------------------------


@pytest.mark.dialects("python")
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "inferred"])
def test_python_zip_with_helper_module_and_custom_main(start: Start, runtime: RuntimeUnderTest,
                                                       binary: bool) -> None:
    proxy = start()
    archive = zipped({
        "__main__.py": "from helper import shout\n\ndef handler(args):\n    return {'said': shout(args['w'])}\n",
        "helper.py": "def shout(word):\n    return word.upper() + '!'\n",
    })
    assert proxy.init(archive, main="handler", binary=binary).status == 200
    assert proxy.run({"w": "zip"}).body == {"said": "ZIP!"}


@pytest.mark.dialects("python")
def test_python_zip_with_virtualenv(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = start()
    site = "virtualenv/lib/python3.11/site-packages"
    archive = zipped({
        "__main__.py": "import vendored, extra\n\ndef main(args):\n    return {'v': vendored.VERSION, 'x': extra.X}\n",
        f"{site}/vendored/__init__.py": "VERSION = '1.2.3'\n",
        f"{site}/extra.pth": "extra_dir\n",  # .pth files of the venv are honoured, as site does
        f"{site}/extra_dir/extra.py": "X = 'from a .pth'\n",
    })
    assert proxy.init(archive, binary=True).status == 200
    assert proxy.run({}).body == {"v": "1.2.3", "x": "from a .pth"}


@pytest.mark.dialects("python")
def test_each_run_starts_with_working_stdout_and_stderr(start: Start, runtime: RuntimeUnderTest) -> None:
    """An action that closes its output (descriptors or streams) does not take the next activation's with it."""
    proxy = start()
    code = ("import os, sys\ndef main(args):\n    print('run', args['n'])\n"
            "    print('err', args['n'], file=sys.stderr)\n"
            "    if args['n'] == 1:\n        os.close(1)\n        sys.stderr.close()\n    return {'n': args['n']}\n")
    assert proxy.init(code).status == 200
    assert proxy.run({"n": 1}).body == {"n": 1}
    assert proxy.run({"n": 2}).body == {"n": 2}
    out, err = proxy.logs_with_sentinels(2)
    assert [line for line in out if line.startswith("run")] == ["run 1", "run 2"]
    assert [line for line in err if line.startswith("err")] == ["err 1", "err 2"]


@pytest.mark.dialects("python")
def test_python_zip_without_main_file_fails_init(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = start()
    init = proxy.init(zipped({"helper.py": "X = 1\n"}), binary=True)
    assert (init.status, init.body) == (502, {"error": "Zip file does not include __main__.py at its top level."})


@pytest.mark.dialects("nodejs")
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "inferred"])
def test_nodejs_zip_with_package_main_and_node_modules(start: Start, runtime: RuntimeUnderTest,
                                                       binary: bool) -> None:
    proxy = start()
    archive = zipped({
        "package.json": json.dumps({"name": "zipped", "main": "lib/entry.js"}),
        "lib/entry.js": ("const pad = require('left-pad');\n"
                         "exports.handler = (args) => ({padded: pad(args.w, 6, '.'), cwd: process.cwd()});\n"),
        "node_modules/left-pad/package.json": json.dumps({"name": "left-pad", "main": "index.js"}),
        "node_modules/left-pad/index.js": "module.exports = (s, n, c) => c.repeat(Math.max(n - s.length, 0)) + s;\n",
    })
    assert proxy.init(archive, main="handler", binary=binary).status == 200
    body = proxy.run({"w": "zip"}).body
    assert body["padded"] == "...zip"
    assert body["cwd"].startswith("/")  # the action runs in its own folder


@pytest.mark.dialects("nodejs")
def test_nodejs_zip_with_index_js(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = start()
    archive = zipped({"index.js": "const h = require('./helper');\nexports.main = (a) => ({h: h(a.w)});\n",
                      "helper.js": "module.exports = (w) => w + '!';\n"})
    assert proxy.init(archive, binary=True).status == 200
    assert proxy.run({"w": "hi"}).body == {"h": "hi!"}


@pytest.mark.dialects("nodejs")
def test_nodejs_zip_of_an_es_module(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = start()
    archive = zipped({"package.json": json.dumps({"name": "esm", "type": "module", "main": "main.js"}),
                      "main.js": "import { sep } from 'node:path';\nexport function main(a) { return {sep, a}; }\n"})
    assert proxy.init(archive, binary=True).status == 200
    assert proxy.run({"x": 1}).body == {"sep": "/", "a": {"x": 1}}


@pytest.mark.dialects("nodejs")
def test_nodejs_zip_without_entry_fails_init(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = start()
    init = proxy.init(zipped({"lib/other.js": "exports.main = () => ({})\n"}), binary=True)
    assert (init.status, init.body) == (
        502, {"error": "Zipped actions must contain either package.json or index.js at the root."})
    proxy.logs_with_sentinels(1)


@pytest.mark.dialects("exec")
def test_exec_zip_with_helper_file(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = start()
    script = ("#!/bin/sh\n"
              "echo \"log line from $(cat greeting.txt)\"\n"
              "echo \"{\\\"greeting\\\": \\\"$(cat greeting.txt)\\\", \\\"ns\\\": \\\"$__OW_NAMESPACE\\\"}\"\n")
    # The mode is dropped on purpose: the skeleton makes exec runnable itself.
    archive = zipped({"exec": script, "greeting.txt": "bonjour"}, modes={"exec": 0o644})
    assert proxy.init(archive, binary=True).status == 200
    assert proxy.run({}, namespace="guest").body == {"greeting": "bonjour", "ns": "guest"}
    out, _ = proxy.logs_with_sentinels(1)
    assert out == ["log line from bonjour", SENTINEL]


@pytest.mark.dialects("exec")
def test_exec_zip_without_exec_fails_init(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = start()
    init = proxy.init(zipped({"run.sh": "#!/bin/sh\necho '{}'\n"}), binary=True)
    assert init.status == 502
    assert "binary" in init.body["error"]
    proxy.logs_with_sentinels(1)


@pytest.mark.dialects("rust")
def test_rust_zip_with_a_module_and_another_main(start: Start, runtime: RuntimeUnderTest) -> None:
    proxy = start()
    archive = zipped({
        "Cargo.toml": '[package]\nname = "actions"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/lib.rs": ("mod shout;\nuse serde_json::{json, Error, Value};\n\n"
                       "pub fn handler(args: Value) -> Result<Value, Error> {\n"
                       '    Ok(json!({"said": shout::shout(args["w"].as_str().unwrap_or_default())}))\n}\n'),
        "src/shout.rs": "pub fn shout(word: &str) -> String {\n    format!(\"{}!\", word.to_uppercase())\n}\n",
    })
    assert proxy.init(archive, main="handler", binary=True).status == 200
    assert proxy.run({"w": "zip"}).body == {"said": "ZIP!"}


@pytest.mark.dialects("java")
def test_java_jar_of_several_classes_in_packages(start: Start, runtime: RuntimeUnderTest) -> None:
    from tests.contract.runtime_code import java_jar

    jar = java_jar("package com.example;\n\nimport com.google.gson.JsonObject;\n\npublic class Hello {\n"
                   "    static class Shout {\n        static String of(String w) { return w.toUpperCase() + \"!\"; }\n"
                   "    }\n\n    public static JsonObject main(JsonObject args) {\n"
                   "        JsonObject r = new JsonObject();\n"
                   "        r.addProperty(\"said\", Shout.of(args.get(\"w\").getAsString()));\n        return r;\n"
                   "    }\n}\n")
    proxy = start()
    assert proxy.init(jar, main="com.example.Hello", binary=True).status == 200
    assert proxy.run({"w": "jar"}).body == {"said": "JAR!"}



@pytest.mark.dialects("php")
def test_php_zip_with_composer_s_vendor_autoload(start: Start, runtime: RuntimeUnderTest) -> None:
    """A Composer project: vendor/autoload.php is loaded before index.php, so its classes autoload."""
    proxy = start()
    archive = zipped({
        "index.php": ("<?php\nfunction main(array $args): array {\n"
                      "  return ['said' => \\Acme\\Shout::of($args['w'])];\n}\n"),
        "vendor/autoload.php": ("<?php\nspl_autoload_register(function (string $class): void {\n"
                                "  require __DIR__ . '/acme/' . basename(str_replace('\\\\', '/', $class)) . '.php';\n"
                                "});\n"),
        "vendor/acme/Shout.php": ("<?php\nnamespace Acme;\n\nclass Shout {\n"
                                  "  public static function of(string $w): string {\n"
                                  "    return strtoupper($w) . '!';\n  }\n}\n"),
    })
    assert proxy.init(archive, binary=True).status == 200
    assert proxy.run({"w": "composer"}).body == {"said": "COMPOSER!"}


@pytest.mark.dialects("java")
def test_java_zip_of_the_action_s_jar_and_a_library_jar(start: Start, runtime: RuntimeUnderTest) -> None:
    """Jars at the top of the zip join the class path: the action's classes in one, a library in another."""
    from tests.contract.runtime_code import java_jar

    library = java_jar("package com.acme;\n\npublic class Shout {\n"
                       "    public static String of(String w) { return w.toUpperCase() + \"!\"; }\n}\n")
    action = java_jar("import com.google.gson.JsonObject;\n\npublic class Main {\n"
                      "    public static JsonObject main(JsonObject args) {\n"
                      "        JsonObject r = new JsonObject();\n"
                      "        r.addProperty(\"said\", com.acme.Shout.of(args.get(\"w\").getAsString()));\n"
                      "        return r;\n    }\n}\n", classpath=(library,))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("action.jar", base64.b64decode(action))
        archive.writestr("acme.jar", base64.b64decode(library))
    proxy = start()
    assert proxy.init(base64.b64encode(buffer.getvalue()).decode("ascii"), binary=True).status == 200
    assert proxy.run({"w": "lib"}).body == {"said": "LIB!"}


@pytest.mark.dialects("go")
def test_go_zip_with_a_vendored_module(start: Start, runtime: RuntimeUnderTest) -> None:
    """A module with its dependencies in vendor/ (`go mod vendor`) compiles without reaching any proxy."""
    proxy = start()
    archive = zipped({
        "go.mod": "module action\n\ngo 1.19\n\nrequire example.com/shout v0.1.0\n",
        "main.go": ("package main\n\nimport \"example.com/shout\"\n\n"
                    "func Main(obj map[string]interface{}) map[string]interface{} {\n"
                    "\treturn map[string]interface{}{\"said\": shout.Of(obj[\"w\"].(string))}\n}\n"),
        "vendor/modules.txt": "# example.com/shout v0.1.0\n## explicit\nexample.com/shout\n",
        "vendor/example.com/shout/shout.go": ("package shout\n\nimport \"strings\"\n\n"
                                              "func Of(w string) string { return strings.ToUpper(w) + \"!\" }\n"),
    })
    assert proxy.init(archive, binary=True).status == 200
    assert proxy.run({"w": "vendored"}).body == {"said": "VENDORED!"}
