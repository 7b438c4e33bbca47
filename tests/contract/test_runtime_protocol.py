"""The action runtime protocol (reference/openwhisk-behaviour.md §3) against the python:3 image."""

from __future__ import annotations

import base64
import io
import json
import textwrap
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.contract

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
Start = Callable[..., Any]  # the python_runtime factory: start(env=None) -> RuntimeClient (conftest.py)

ECHO = "def main(args):\n    return args\n"


def code(text: str) -> str:
    return textwrap.dedent(text).lstrip()


def zipped(files: dict[str, str]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def test_hello_world(python_runtime: Start) -> None:
    proxy = python_runtime()
    source = code("""
        def main(args):
            return {"greeting": "Hello " + args.get("name", "stranger") + "!"}
    """)
    init = proxy.init(source)
    assert (init.status, init.body) == (200, {"ok": True})
    run = proxy.run({"name": "World"})
    assert (run.status, run.body) == (200, {"greeting": "Hello World!"})
    assert run.headers["Content-Type"] == "application/json"


def test_second_init_is_refused(python_runtime: Start) -> None:
    proxy = python_runtime()
    assert proxy.init(ECHO).status == 200
    again = proxy.init("def main(args):\n    return {'second': True}\n")
    assert (again.status, again.body) == (403, {"error": "Cannot initialize the action more than once."})
    assert proxy.run({"first": True}).body == {"first": True}


def test_reinit_allowed_by_proxy_allow_reinit(python_runtime: Start) -> None:
    proxy = python_runtime(env={"PROXY_ALLOW_REINIT": "1"})
    assert proxy.init(ECHO).status == 200
    assert proxy.init("def main(args):\n    return {'second': True}\n").status == 200
    assert proxy.run({}).body == {"second": True}


@pytest.mark.parametrize("source", [None, ""])
def test_init_without_code_is_403(python_runtime: Start, source: str | None) -> None:
    proxy = python_runtime()
    init = proxy.init(source)
    assert (init.status, init.body) == (403, {"error": "Missing main/no code to execute."})


def test_run_before_init_is_an_error(python_runtime: Start) -> None:
    proxy = python_runtime()
    run = proxy.run({})
    assert run.status in (403, 500)
    assert "error" in run.body


def test_syntax_error_fails_init(python_runtime: Start) -> None:
    proxy = python_runtime()
    init = proxy.init("def main(args)\n    return {}\n")
    assert init.status == 502
    assert "syntax" in init.body["error"].lower()
    out, err = proxy.logs_with_sentinels(1)
    assert "SyntaxError" in "\n".join(err)
    assert out[-1] == SENTINEL and err[-1] == SENTINEL


def test_missing_main_fails_init(python_runtime: Start) -> None:
    proxy = python_runtime()
    init = proxy.init("def handler(args):\n    return args\n")
    assert init.status == 502
    assert "main" in init.body["error"]
    proxy.logs_with_sentinels(1)


def test_non_dict_result_is_a_developer_error(python_runtime: Start) -> None:
    proxy = python_runtime()
    assert proxy.init("def main(args):\n    return 'just a string'\n").status == 200
    run = proxy.run({})
    assert (run.status, run.body) == (502, {"error": "The action did not return a dictionary or array."})
    proxy.logs_with_sentinels(1)


def test_exception_is_an_application_error(python_runtime: Start) -> None:
    proxy = python_runtime()
    source = code("""
        def main(args):
            if args.get("fail"):
                raise ValueError("bad input: " + args["fail"])
            return {"fine": True}
    """)
    assert proxy.init(source).status == 200
    run = proxy.run({"fail": "x"})
    assert (run.status, run.body) == (200, {"error": "bad input: x"})
    out, err = proxy.logs_with_sentinels(1)
    assert out == [SENTINEL]
    stderr = "\n".join(err)
    assert "Traceback (most recent call last)" in stderr
    assert "ValueError: bad input: x" in stderr
    assert stderr.index("ValueError") < stderr.index(SENTINEL)
    assert proxy.run({}).body == {"fine": True}  # the container lives on


def test_unicode_in_code_params_logs_and_result(python_runtime: Start) -> None:
    proxy = python_runtime()
    source = code("""
        GREETING = "héllo wörld ✓ 你好 🐍"

        def main(args):
            print("log:", GREETING, args["name"])
            return {"greeting": GREETING + " " + args["name"]}
    """)
    assert proxy.init(source).status == 200
    run = proxy.run({"name": "Zoë 日本 🚀"})
    assert run.body == {"greeting": "héllo wörld ✓ 你好 🐍 Zoë 日本 🚀"}
    out, _ = proxy.logs_with_sentinels(1)
    assert out == ["log: héllo wörld ✓ 你好 🐍 Zoë 日本 🚀", SENTINEL]


def test_init_env_is_exported_before_the_code_loads(python_runtime: Start) -> None:
    proxy = python_runtime()
    source = code("""
        import os

        AT_LOAD = {k: os.environ.get(k) for k in ("GREETING", "COUNT", "__OW_NAMESPACE")}

        def main(args):
            return AT_LOAD
    """)
    env = {"GREETING": "bonjour", "COUNT": 3, "__OW_NAMESPACE": "guest"}
    assert proxy.init(source, env=env).status == 200
    assert proxy.run({}).body == {"GREETING": "bonjour", "COUNT": "3", "__OW_NAMESPACE": "guest"}


def test_ow_variables_are_set_on_run(python_runtime: Start) -> None:
    proxy = python_runtime()
    source = code("""
        import os

        def main(args):
            return {k: v for k, v in os.environ.items() if k.startswith("__OW_")}
    """)
    assert proxy.init(source).status == 200
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


def test_one_mib_argument_round_trips(python_runtime: Start) -> None:
    proxy = python_runtime()
    assert proxy.init(ECHO).status == 200
    blob = "é" * (512 * 1024)  # 1 MiB of UTF-8
    run = proxy.run({"blob": blob})
    assert run.status == 200
    assert run.body == {"blob": blob}


def test_array_arguments_and_results(python_runtime: Start) -> None:
    proxy = python_runtime()
    source = code("""
        def main(args):
            return list(reversed(args)) if isinstance(args, list) else [args]
    """)
    assert proxy.init(source).status == 200
    assert (proxy.run([1, "two", {"three": 3}]).body) == [{"three": 3}, "two", 1]
    assert proxy.run({"a": 1}).body == [{"a": 1}]


def test_one_sentinel_per_activation_after_the_output(python_runtime: Start) -> None:
    proxy = python_runtime()
    source = code("""
        import sys

        def main(args):
            print("out", args["n"])
            print("err", args["n"], file=sys.stderr)
            return {"n": args["n"]}
    """)
    assert proxy.init(source).status == 200
    assert proxy.run({"n": 1}).status == 200
    assert proxy.run({"n": 2}).status == 200
    out, err = proxy.logs_with_sentinels(2)
    assert out == ["out 1", SENTINEL, "out 2", SENTINEL]
    assert err == ["err 1", SENTINEL, "err 2", SENTINEL]


@pytest.mark.parametrize(
    "exit_call",
    ["sys.exit(3)", "os._exit(0)", "os.kill(os.getpid(), signal.SIGKILL)"],
    ids=["sys.exit", "os._exit", "killed"],
)
def test_launcher_exit_during_run_is_a_developer_error(python_runtime: Start, exit_call: str) -> None:
    proxy = python_runtime()
    source = code(f"""
        import os, signal, sys

        def main(args):
            print("about to exit", flush=True)
            {exit_call}
    """)
    assert proxy.init(source).status == 200
    run = proxy.run({})
    assert (run.status, run.body) == (
        502,
        {"error": "The action did not produce a valid response and exited unexpectedly."},
    )
    out, err = proxy.logs_with_sentinels(1)
    assert out == ["about to exit", SENTINEL]
    assert err[-1] == SENTINEL


def test_sys_exit_at_import_fails_init(python_runtime: Start) -> None:
    proxy = python_runtime()
    init = proxy.init("import sys\nsys.exit(1)\ndef main(args):\n    return {}\n")
    assert init.status == 502
    assert "exited" in init.body["error"]
    proxy.logs_with_sentinels(1)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "inferred"])
def test_zip_action_with_helper_module_and_custom_main(python_runtime: Start, binary: bool) -> None:
    proxy = python_runtime()
    archive = zipped(
        {
            "__main__.py": code("""
                from helper import shout

                def handler(args):
                    return {"said": shout(args["w"])}
            """),
            "helper.py": "def shout(word):\n    return word.upper() + '!'\n",
        }
    )
    assert proxy.init(archive, main="handler", binary=binary).status == 200
    assert proxy.run({"w": "zip"}).body == {"said": "ZIP!"}


def test_zip_action_with_virtualenv(python_runtime: Start) -> None:
    proxy = python_runtime()
    archive = zipped(
        {
            "__main__.py": "import vendored\n\ndef main(args):\n    return {'v': vendored.VERSION}\n",
            "virtualenv/lib/python3.11/site-packages/vendored/__init__.py": "VERSION = '1.2.3'\n",
        }
    )
    assert proxy.init(archive, binary=True).status == 200
    assert proxy.run({}).body == {"v": "1.2.3"}


def test_action_cannot_read_the_protocol_from_stdin(python_runtime: Start) -> None:
    proxy = python_runtime()
    assert proxy.init("import sys\n\ndef main(args):\n    return {'stdin': sys.stdin.read()}\n").status == 200
    assert proxy.run({}).body == {"stdin": ""}
    assert proxy.run({"again": 1}).body == {"stdin": ""}


def test_keep_alive_many_runs_on_one_connection(python_runtime: Start) -> None:
    proxy = python_runtime()
    assert proxy.init(ECHO).status == 200
    sock = proxy.connection.sock
    assert sock is not None
    for n in range(20):
        run = proxy.run({"n": n})
        assert (run.status, run.body) == (200, {"n": n})
        assert int(run.headers["Content-Length"]) == len(json.dumps({"n": n}, separators=(",", ":")))
        assert proxy.connection.sock is sock  # no reconnect happened
