"""The test actions of the runtime-protocol contract, once per dialect.

Every contract test asks for a snippet by name; a dialect without it does not have that behaviour
(e.g. a dockerskeleton image compiles nothing at /init, so it has no syntax error to report) and the
test is skipped with the reason given in ``NOT_APPLICABLE``. ``exec`` actions are Python 3 scripts
(the skeleton's base image has python3) that follow the skeleton's convention: params as the JSON
argument or on stdin, the result as the last stdout line.
"""

from __future__ import annotations

import textwrap

import pytest

from tests.contract.conftest import RuntimeUnderTest

GREETING = "héllo wörld ✓ 你好 🐍"


def _exec(body: str) -> str:
    """An exec script: ``main(args)`` is the body; it prints the result as the last line."""
    return "#!/usr/bin/env python3\nimport json, os, sys\n" + textwrap.dedent(body).lstrip() + textwrap.dedent("""
        args = json.loads(sys.argv[1]) if len(sys.argv) > 1 else json.load(sys.stdin)
        print(json.dumps(main(args), ensure_ascii=False))
    """)


SNIPPETS: dict[str, dict[str, str]] = {
    "python": {
        "hello": 'def main(args):\n    return {"greeting": "Hello " + args.get("name", "stranger") + "!"}\n',
        "echo": "def main(args):\n    return args\n",
        "second": "def main(args):\n    return {'second': True}\n",
        "syntax_error": "def main(args)\n    return {}\n",
        "missing_main": "def handler(args):\n    return args\n",
        "non_dict": "def main(args):\n    return 'just a string'\n",
        "raise": textwrap.dedent("""
            def main(args):
                if args.get("fail"):
                    raise ValueError("bad input: " + args["fail"])
                return {"fine": True}
        """),
        "unicode": textwrap.dedent(f"""
            GREETING = "{GREETING}"

            def main(args):
                print("log:", GREETING, args["name"])
                return {{"greeting": GREETING + " " + args["name"]}}
        """),
        "env_at_load": textwrap.dedent("""
            import os

            AT_LOAD = {k: os.environ.get(k) for k in ("GREETING", "COUNT", "__OW_NAMESPACE")}

            def main(args):
                return AT_LOAD
        """),
        "ow_env": textwrap.dedent("""
            import os

            def main(args):
                return {k: v for k, v in os.environ.items() if k.startswith("__OW_")}
        """),
        "reverse": "def main(args):\n    return list(reversed(args)) if isinstance(args, list) else [args]\n",
        "out_err": textwrap.dedent("""
            import sys

            def main(args):
                print("out", args["n"])
                print("err", args["n"], file=sys.stderr)
                return {"n": args["n"]}
        """),
        "exit_on_run": 'import sys\n\ndef main(args):\n    print("about to exit", flush=True)\n    sys.exit(3)\n',
        "killed_on_run": textwrap.dedent("""
            import os, signal

            def main(args):
                print("about to exit", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
        """),
        "exit_on_init": "import sys\nsys.exit(1)\ndef main(args):\n    return {}\n",
        "read_stdin": "import sys\n\ndef main(args):\n    return {'stdin': sys.stdin.read()}\n",
        "cwd": "import os\n\ndef main(args):\n    return {'cwd': os.getcwd()}\n",
    },
    "nodejs": {
        "hello": 'function main(args) {\n  return {greeting: "Hello " + (args.name || "stranger") + "!"};\n}\n',
        "echo": "function main(args) { return args; }\n",
        "second": "function main() { return {second: true}; }\n",
        "syntax_error": "function main(args) {\n  return {;\n}\n",
        "missing_main": "function handler(args) { return args; }\n",
        "non_dict": "function main() { return 'just a string'; }\n",
        "raise": textwrap.dedent("""
            function main(args) {
              if (args.fail) {
                throw new Error("bad input: " + args.fail);
              }
              return {fine: true};
            }
        """),
        "unicode": textwrap.dedent(f"""
            const GREETING = "{GREETING}";

            function main(args) {{
              console.log("log:", GREETING, args.name);
              return {{greeting: GREETING + " " + args.name}};
            }}
        """),
        "env_at_load": textwrap.dedent("""
            const AT_LOAD = {};
            for (const k of ["GREETING", "COUNT", "__OW_NAMESPACE"]) AT_LOAD[k] = process.env[k];

            exports.main = () => AT_LOAD;
        """),
        "ow_env": textwrap.dedent("""
            function main() {
              return Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("__OW_")));
            }
        """),
        "reverse": "const main = (args) => Array.isArray(args) ? args.slice().reverse() : [args];\n",
        "out_err": textwrap.dedent("""
            function main(args) {
              console.log("out", args.n);
              console.error("err", args.n);
              return {n: args.n};
            }
        """),
        "exit_on_run": 'function main() {\n  console.log("about to exit");\n  process.exit(3);\n}\n',
        "killed_on_run": textwrap.dedent("""
            function main() {
              console.log("about to exit");
              process.kill(process.pid, "SIGKILL");
            }
        """),
        "exit_on_init": "process.exit(1);\nfunction main() { return {}; }\n",
        "read_stdin": 'const fs = require("fs");\nfunction main() { return {stdin: fs.readFileSync(0, "utf8")}; }\n',
        "cwd": "function main() { return {cwd: process.cwd()}; }\n",
        "together": textwrap.dedent("""
            // Every run waits until args.expect runs are in flight, then all are released together.
            const waiting = [];
            function main(args) {
              return new Promise((resolve) => {
                const timer = setTimeout(() => resolve({n: args.n, released: false}), 20000);
                waiting.push(() => { clearTimeout(timer); resolve({n: args.n, released: true}); });
                if (waiting.length >= args.expect) waiting.splice(0).forEach((release) => release());
              });
            }
        """),
        "promise": textwrap.dedent("""
            function main(args) {
              return new Promise((resolve, reject) => setImmediate(() =>
                args.fail ? reject(new Error("async " + args.fail)) : resolve({later: args.n})));
            }
        """),
    },
    "exec": {
        "hello": _exec('def main(args):\n    return {"greeting": "Hello " + args.get("name", "stranger") + "!"}\n'),
        "echo": _exec("def main(args):\n    return args\n"),
        "second": _exec("def main(args):\n    return {'second': True}\n"),
        "non_dict": _exec("def main(args):\n    return 'just a string'\n"),
        # The skeleton's only way to an application error: print {"error": ...} as the result.
        "raise": _exec("""
            import traceback

            def fail(word):
                raise ValueError("bad input: " + word)

            def main(args):
                if args.get("fail"):
                    try:
                        fail(args["fail"])
                    except ValueError as exc:
                        traceback.print_exc()
                        return {"error": str(exc)}
                return {"fine": True}
        """),
        "unicode": _exec(f"""
            GREETING = "{GREETING}"

            def main(args):
                print("log:", GREETING, args["name"])
                return {{"greeting": GREETING + " " + args["name"]}}
        """),
        "env_at_load": _exec("""
            AT_LOAD = {k: os.environ.get(k) for k in ("GREETING", "COUNT", "__OW_NAMESPACE")}

            def main(args):
                return AT_LOAD
        """),
        "cwd": _exec("def main(args):\n    return {'cwd': os.getcwd()}\n"),
        "ow_env": _exec("def main(args):\n    return {k: v for k, v in os.environ.items() if k.startswith('__OW_')}\n"),
        "reverse": _exec("def main(args):\n    return list(reversed(args)) if isinstance(args, list) else [args]\n"),
        "out_err": _exec("""
            def main(args):
                print("out", args["n"])
                print("err", args["n"], file=sys.stderr)
                return {"n": args["n"]}
        """),
        "exit_on_run": _exec('def main(args):\n    print("about to exit", flush=True)\n    sys.exit(3)\n'),
        "killed_on_run": _exec("""
            import signal

            def main(args):
                print("about to exit", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
        """),
    },
}

NOT_APPLICABLE = {
    "exec": {
        "syntax_error": "a skeleton image compiles nothing at /init: a broken exec fails on /run",
        "missing_main": "a skeleton image runs its exec file; there is no entry point to look up",
        "exit_on_init": "a skeleton image runs no action code at /init",
        "read_stdin": "the skeleton passes the params on the exec's stdin by design",
        "promise": "Node.js only",
    },
    "python": {"promise": "Node.js only"},
}

# What each dialect writes on stderr for an application error raised as in the "raise" snippet.
TRACEBACK_MARKERS = {
    "python": ("Traceback (most recent call last)", "ValueError: bad input: x"),
    "nodejs": ("Error: bad input: x", "    at main ("),
    "exec": ("Traceback (most recent call last)", "ValueError: bad input: x"),
}

# The error a /run answers with when the action's process exits instead of returning.
EXIT_ON_RUN_ERROR = {
    "python": "The action did not produce a valid response and exited unexpectedly.",
    "nodejs": "The action did not produce a valid response and exited unexpectedly.",
    # The skeleton cannot tell an exit from a missing result: no JSON last line is all it sees.
    "exec": "The action did not return a dictionary or array.",
}


def snippet(runtime: RuntimeUnderTest, name: str) -> str:
    """The test action ``name`` in the runtime's dialect, or skip the test where it does not apply."""
    reason = NOT_APPLICABLE.get(runtime.dialect, {}).get(name)
    if reason is not None:
        pytest.skip(f"not applicable to {runtime.id}: {reason}")
    return SNIPPETS[runtime.dialect][name]
