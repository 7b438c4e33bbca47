"""The test actions of the runtime-protocol contract, once per dialect.

Every contract test asks for a snippet by name; a dialect without it does not have that behaviour
(e.g. a dockerskeleton image compiles nothing at /init, so it has no syntax error to report) and the
test is skipped with the reason given in ``NOT_APPLICABLE``. ``exec`` actions are Python 3 scripts
(the skeleton's base image has python3) that follow the skeleton's convention: params as the JSON
argument or on stdin, the result as the last stdout line.
"""

from __future__ import annotations

import base64
import functools
import io
import subprocess
import tempfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.contract.conftest import RuntimeUnderTest

GREETING = "héllo wörld ✓ 你好 🐍"


def _exec(body: str) -> str:
    """An exec script: ``main(args)`` is the body; it prints the result as the last line."""
    return "#!/usr/bin/env python3\nimport json, os, sys\n" + textwrap.dedent(body).lstrip() + textwrap.dedent("""
        args = json.loads(sys.argv[1]) if len(sys.argv) > 1 else json.load(sys.stdin)
        print(json.dumps(main(args), ensure_ascii=False))
    """)


def _go(body: str, imports: tuple[str, ...] = (), top: str = "") -> str:
    """A Go action: ``body`` is the body of ``Main(obj)``, indented here."""
    header = "package main\n\n" + "".join(f'import "{name}"\n' for name in imports)
    inner = "".join(f"\t{line}\n" if line else "\n" for line in body.splitlines())
    return f"{header}\n{top}\nfunc Main(obj map[string]interface{{}}) map[string]interface{{}} {{\n{inner}}}\n"


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
    "ruby": {
        "hello": 'def main(params)\n  { "greeting" => "Hello #{params.fetch("name", "stranger")}!" }\nend\n',
        "echo": "def main(params)\n  params\nend\n",
        "second": "def main(params)\n  { 'second' => true }\nend\n",
        "syntax_error": "def main(params\n  {\nend\n",
        "missing_main": "def handler(params)\n  params\nend\n",
        "non_dict": "def main(params)\n  'just a string'\nend\n",
        "raise": textwrap.dedent("""
            def main(params)
              raise ArgumentError, "bad input: #{params['fail']}" if params['fail']
              { 'fine' => true }
            end
        """),
        "unicode": textwrap.dedent(f"""
            GREETING = "{GREETING}"

            def main(params)
              puts "log: #{{GREETING}} #{{params['name']}}"
              {{ 'greeting' => "#{{GREETING}} #{{params['name']}}" }}
            end
        """),
        "env_at_load": textwrap.dedent("""
            AT_LOAD = %w[GREETING COUNT __OW_NAMESPACE].to_h { |k| [k, ENV[k]] }

            def main(params)
              AT_LOAD
            end
        """),
        "ow_env": "def main(params)\n  ENV.to_h.select { |k, _| k.start_with?('__OW_') }\nend\n",
        "reverse": "def main(params)\n  params.is_a?(Array) ? params.reverse : [params]\nend\n",
        "out_err": textwrap.dedent("""
            def main(params)
              puts "out #{params['n']}"
              warn "err #{params['n']}"
              { 'n' => params['n'] }
            end
        """),
        "exit_on_run": "def main(params)\n  puts 'about to exit'\n  exit 3\nend\n",
        "killed_on_run": "def main(params)\n  puts 'about to exit'\n  Process.kill('KILL', Process.pid)\nend\n",
        "exit_on_init": "exit 1\ndef main(params)\n  {}\nend\n",
        "read_stdin": "def main(params)\n  { 'stdin' => $stdin.read }\nend\n",
        "cwd": "def main(params)\n  { 'cwd' => Dir.pwd }\nend\n",
    },
    "php": {
        "hello": ('<?php\nfunction main(array $args): array {\n'
                  '  return ["greeting" => "Hello " . ($args["name"] ?? "stranger") . "!"];\n}\n'),
        "echo": "<?php\nfunction main(array $args): array { return $args; }\n",
        "second": "<?php\nfunction main(array $args): array { return ['second' => true]; }\n",
        "syntax_error": "<?php\nfunction main(array $args): array {\n  return [;\n}\n",
        "missing_main": "<?php\nfunction handler(array $args): array { return $args; }\n",
        "non_dict": "<?php\nfunction main(array $args) { return 'just a string'; }\n",
        "raise": textwrap.dedent("""
            <?php
            function main(array $args): array {
                if (isset($args['fail'])) {
                    throw new InvalidArgumentException('bad input: ' . $args['fail']);
                }
                return ['fine' => true];
            }
        """).lstrip(),
        "unicode": textwrap.dedent(f"""
            <?php
            const GREETING = "{GREETING}";
            function main(array $args): array {{
                echo "log: " . GREETING . " " . $args['name'] . "\\n";
                return ['greeting' => GREETING . " " . $args['name']];
            }}
        """).lstrip(),
        "env_at_load": textwrap.dedent("""
            <?php
            $GLOBALS['at_load'] = [];
            foreach (['GREETING', 'COUNT', '__OW_NAMESPACE'] as $k) { $GLOBALS['at_load'][$k] = getenv($k); }
            function main(array $args): array { return $GLOBALS['at_load']; }
        """).lstrip(),
        "ow_env": textwrap.dedent("""
            <?php
            function main(array $args): array {
                $env = [];
                foreach (getenv() as $k => $v) { if (str_starts_with($k, '__OW_')) { $env[$k] = $v; } }
                return $env;
            }
        """).lstrip(),
        "reverse": ("<?php\nfunction main(array $args): array {\n"
                    "  return array_is_list($args) ? array_reverse($args) : [$args];\n}\n"),
        "out_err": textwrap.dedent("""
            <?php
            function main(array $args): array {
                echo "out " . $args['n'] . "\\n";
                fwrite(STDERR, "err " . $args['n'] . "\\n");
                return ['n' => $args['n']];
            }
        """).lstrip(),
        "exit_on_run": "<?php\nfunction main(array $args): array {\n  echo \"about to exit\\n\";\n  exit(3);\n}\n",
        "killed_on_run": ("<?php\nfunction main(array $args): array {\n  echo \"about to exit\\n\";\n"
                          "  posix_kill(getmypid(), 9);\n  return [];\n}\n"),
        "exit_on_init": "<?php\nexit(1);\nfunction main(array $args): array { return []; }\n",
        "read_stdin": "<?php\nfunction main(array $args): array { return ['stdin' => stream_get_contents(STDIN)]; }\n",
        "cwd": "<?php\nfunction main(array $args): array { return ['cwd' => getcwd()]; }\n",
    },
    "go": {
        "hello": _go('name, _ := obj["name"].(string)\nif name == "" {\n\tname = "stranger"\n}\n'
                     'return map[string]interface{}{"greeting": "Hello " + name + "!"}'),
        "echo": _go("return obj"),
        "second": _go('return map[string]interface{}{"second": true}'),
        "syntax_error": _go("return {").replace("\t}\n}", "}"),
        "missing_main": _go("return obj").replace("func Main(", "func Handler("),
        "raise": _go('if fail, ok := obj["fail"].(string); ok {\n\tpanic("bad input: " + fail)\n}\n'
                     'return map[string]interface{}{"fine": true}'),
        "unicode": _go(f'fmt.Println("log:", "{GREETING}", obj["name"])\n'
                       f'return map[string]interface{{}}{{"greeting": "{GREETING} " + obj["name"].(string)}}',
                       imports=("fmt",)),
        "env_at_load": _go('return atLoad', imports=("os",), top=textwrap.dedent("""
            var atLoad = map[string]interface{}{}

            func init() {
            \tfor _, k := range []string{"GREETING", "COUNT", "__OW_NAMESPACE"} {
            \t\tatLoad[k] = os.Getenv(k)
            \t}
            }
        """)),
        "ow_env": _go('env := map[string]interface{}{}\nfor _, kv := range os.Environ() {\n'
                      '\tif strings.HasPrefix(kv, "__OW_") {\n\t\tparts := strings.SplitN(kv, "=", 2)\n'
                      '\t\tenv[parts[0]] = parts[1]\n\t}\n}\nreturn env', imports=("os", "strings")),
        "out_err": _go('fmt.Println("out", obj["n"])\nfmt.Fprintln(os.Stderr, "err", obj["n"])\n'
                       'return map[string]interface{}{"n": obj["n"]}', imports=("fmt", "os")),
        "exit_on_run": _go('fmt.Println("about to exit")\nos.Exit(3)\nreturn nil', imports=("fmt", "os")),
        "killed_on_run": _go('fmt.Println("about to exit")\nsyscall.Kill(os.Getpid(), syscall.SIGKILL)\n'
                             'select {}', imports=("fmt", "os", "syscall")),
        "exit_on_init": _go("return obj", imports=("os",), top="func init() {\n\tos.Exit(1)\n}\n"),
        "read_stdin": _go('data, _ := io.ReadAll(os.Stdin)\nreturn map[string]interface{}{"stdin": string(data)}',
                          imports=("io", "os")),
        "cwd": _go('dir, _ := os.Getwd()\nreturn map[string]interface{}{"cwd": dir}', imports=("os",)),
    },
}

def _rust(body: str, uses: str = "") -> str:
    """A Rust action: ``body`` is the body of ``pub fn main(args: Value) -> Result<Value, Error>``."""
    inner = "".join(f"    {line}\n" for line in body.splitlines())
    return (f"use serde_json::{{json, Error, Value}};\n{uses}\n"
            f"pub fn main(args: Value) -> Result<Value, Error> {{\n{inner}}}\n")


RUST_SNIPPETS = {
    "hello": _rust('let name = args["name"].as_str().unwrap_or("stranger").to_string();\n'
                   'Ok(json!({"greeting": format!("Hello {}!", name)}))'),
    "echo": _rust("Ok(args)"),
    "second": _rust('Ok(json!({"second": true}))'),
    "syntax_error": _rust("Ok(args").replace("}\n", "", 1),
    "missing_main": _rust("Ok(args)").replace("pub fn main(", "pub fn handler("),
    "non_dict": _rust('Ok(json!("just a string"))'),
    "raise": _rust('if let Some(fail) = args["fail"].as_str() {\n    panic!("bad input: {}", fail);\n}\n'
                   'Ok(json!({"fine": true}))'),
    "unicode": _rust('let name = args["name"].as_str().unwrap_or_default().to_string();\n'
                     f'println!("log: {GREETING} {{}}", name);\n'
                     f'Ok(json!({{"greeting": format!("{GREETING} {{}}", name)}}))'),
    "env_at_load": _rust('let mut found = serde_json::Map::new();\n'
                         'for k in ["GREETING", "COUNT", "__OW_NAMESPACE"] {\n'
                         '    found.insert(k.to_string(), json!(std::env::var(k).ok()));\n}\n'
                         "Ok(Value::Object(found))"),
    "ow_env": _rust('let env: serde_json::Map<String, Value> = std::env::vars()\n'
                    '    .filter(|(k, _)| k.starts_with("__OW_")).map(|(k, v)| (k, json!(v))).collect();\n'
                    "Ok(Value::Object(env))"),
    "reverse": _rust("match args {\n    Value::Array(mut items) => { items.reverse(); Ok(Value::Array(items)) }\n"
                     "    other => Ok(json!([other])),\n}"),
    "out_err": _rust('println!("out {}", args["n"]);\neprintln!("err {}", args["n"]);\n'
                     'Ok(json!({"n": args["n"]}))'),
    "exit_on_run": _rust('println!("about to exit");\nstd::process::exit(3)'),
    "killed_on_run": _rust('println!("about to exit");\n'
                           'let _ = std::process::Command::new("/bin/sh").args(["-c", "kill -9 $PPID"]).status();\n'
                           "std::thread::sleep(std::time::Duration::from_secs(60));\nOk(args)"),
    "read_stdin": _rust("let mut text = String::new();\nlet _ = std::io::stdin().read_to_string(&mut text);\n"
                        'Ok(json!({"stdin": text}))', uses="use std::io::Read;\n"),
    "cwd": _rust('Ok(json!({"cwd": std::env::current_dir().unwrap().display().to_string()}))'),
}

JAVA_HEAD = "import com.google.gson.*;\nimport java.util.*;\n\n"


def _java(body: str, top: str = "", class_name: str = "Main", method: str = "main") -> str:
    """Java source of a class whose ``main(JsonObject args)`` has ``body``; compiled to a jar by ``snippet``."""
    inner = "".join(f"        {line}\n" for line in body.splitlines())
    members = "".join(f"    {line}\n" for line in top.splitlines())
    return (f"{JAVA_HEAD}public class {class_name} {{\n{members}"
            f"    public static JsonObject {method}(JsonObject args) throws Exception {{\n{inner}    }}\n}}\n")


JAVA_SNIPPETS = {
    "hello": _java('JsonObject r = new JsonObject();\n'
                   'String name = args.has("name") ? args.get("name").getAsString() : "stranger";\n'
                   'r.addProperty("greeting", "Hello " + name + "!");\nreturn r;'),
    "echo": _java("return args;"),
    "second": _java('JsonObject r = new JsonObject();\nr.addProperty("second", true);\nreturn r;'),
    "missing_main": _java("return args;", class_name="Handler"),
    "non_dict": _java("return null;"),
    "raise": _java('if (args.has("fail")) {\n'
                   '    throw new IllegalArgumentException("bad input: " + args.get("fail").getAsString());\n}\n'
                   'JsonObject r = new JsonObject();\nr.addProperty("fine", true);\nreturn r;'),
    "unicode": _java('String name = args.get("name").getAsString();\n'
                     f'System.out.println("log: {GREETING} " + name);\n'
                     f'JsonObject r = new JsonObject();\nr.addProperty("greeting", "{GREETING} " + name);\n'
                     'return r;'),
    "env_at_load": _java("return AT_LOAD;", top=(
        "static final JsonObject AT_LOAD = new JsonObject();\n"
        'static { for (String k : new String[] {"GREETING", "COUNT", "__OW_NAMESPACE"}) '
        "AT_LOAD.addProperty(k, System.getenv(k)); }")),
    "ow_env": _java("JsonObject r = new JsonObject();\n"
                    'System.getenv().forEach((k, v) -> { if (k.startsWith("__OW_")) r.addProperty(k, v); });\n'
                    "return r;"),
    "out_err": _java('System.out.println("out " + args.get("n"));\nSystem.err.println("err " + args.get("n"));\n'
                     'JsonObject r = new JsonObject();\nr.add("n", args.get("n"));\nreturn r;'),
    "exit_on_run": _java('System.out.println("about to exit");\nSystem.exit(3);\nreturn null;'),
    "killed_on_run": _java('System.out.println("about to exit");\n'
                           'new ProcessBuilder("/bin/sh", "-c", "kill -9 $PPID").start().waitFor();\n'
                           "Thread.sleep(60000);\nreturn null;"),
    "exit_on_init": _java("return args;", top="static { System.exit(1); }"),
    "read_stdin": _java("JsonObject r = new JsonObject();\n"
                        'r.addProperty("stdin", new String(System.in.readAllBytes()));\nreturn r;'),
    "cwd": _java('JsonObject r = new JsonObject();\nr.addProperty("cwd", System.getProperty("user.dir"));\n'
                 "return r;"),
}


@functools.cache
def java_jar(source: str, classpath: tuple[str, ...] = ()) -> str:
    """``source`` compiled with the host's javac against Gson (tests/services.sh installs both) and the base64
    jars of ``classpath``, as a base64 jar: what ``wsk action create X action.jar --main Main`` sends."""
    class_name = source.split("public class ", 1)[1].split(" ", 1)[0]
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as libraries:
        jars = [GSON_JAR]
        for n, jar in enumerate(classpath):
            jars.append(str(Path(libraries) / f"lib{n}.jar"))
            Path(jars[-1]).write_bytes(base64.b64decode(jar))
        path = Path(folder) / f"{class_name}.java"
        path.write_text(source, encoding="utf-8")
        subprocess.run(["javac", "-encoding", "UTF-8", "-cp", ":".join(jars), "-d", folder, str(path)],
                       check=True, capture_output=True)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as jar:
            jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
            for compiled in sorted(Path(folder).rglob("*.class")):
                jar.write(compiled, compiled.relative_to(folder).as_posix())
    return base64.b64encode(buffer.getvalue()).decode("ascii")


GSON_JAR = "/usr/share/java/gson.jar"

NOT_APPLICABLE = {
    "exec": {
        "syntax_error": "a skeleton image compiles nothing at /init: a broken exec fails on /run",
        "missing_main": "a skeleton image runs its exec file; there is no entry point to look up",
        "exit_on_init": "a skeleton image runs no action code at /init",
        "read_stdin": "the skeleton passes the params on the exec's stdin by design",
        "promise": "Node.js only",
    },
    "python": {"promise": "Node.js only"},
    "ruby": {"promise": "Node.js only"},
    "php": {"promise": "Node.js only"},
    "java": {
        "promise": "Node.js only",
        "syntax_error": "a Java action arrives compiled, as a jar: there is no source to fail at /init",
        "reverse": "Java actions take and return a JsonObject (openwhisk-runtime-java's signature)",
    },
    "rust": {
        "promise": "Node.js only",
        "exit_on_init": "a Rust action runs no code before its function is first called",
    },
    "go": {
        "promise": "Node.js only",
        "reverse": "Go actions take and return objects (openwhisk-runtime-go's Main signature)",
        "non_dict": "Go's Main returns a map: the compiler refuses anything else",
    },
}

# What each dialect writes on stderr for an application error raised as in the "raise" snippet.
TRACEBACK_MARKERS = {
    "python": ("Traceback (most recent call last)", "ValueError: bad input: x"),
    "nodejs": ("Error: bad input: x", "    at main ("),
    "exec": ("Traceback (most recent call last)", "ValueError: bad input: x"),
    "ruby": ("bad input: x (ArgumentError)", "in `main'"),
    "php": ("InvalidArgumentException: bad input: x", "#0 "),
    "go": ("panic: bad input: x",),
    "java": ("java.lang.IllegalArgumentException: bad input: x", "\tat Main.main("),
    "rust": ("panicked at 'bad input: x'",),
}

# What /init answers, and what the logs say, for code that does not compile or load ("syntax_error").
SYNTAX_ERROR = {
    "python": ("syntax", "SyntaxError"),
    "nodejs": ("syntax", "SyntaxError"),
    "ruby": ("syntax error", "syntax error"),
    "php": ("syntax error", "syntax error"),
    "go": ("The action failed to generate or locate a binary. See logs for details.", "syntax error"),
    "rust": ("The action failed to generate or locate a binary. See logs for details.", "error: "),
}

# What /init answers for code without the entry point ("missing_main"), in a word it must contain.
MISSING_MAIN = {"go": "binary", "rust": "binary"}

# The error a /run answers with when the action's process exits instead of returning.
EXIT_ON_RUN_ERROR = {
    "python": "The action did not produce a valid response and exited unexpectedly.",
    "nodejs": "The action did not produce a valid response and exited unexpectedly.",
    # The skeleton cannot tell an exit from a missing result: no JSON last line is all it sees.
    "exec": "The action did not return a dictionary or array.",
    "ruby": "The action did not produce a valid response and exited unexpectedly.",
    "php": "The action did not produce a valid response and exited unexpectedly.",
    "go": "The action did not produce a valid response and exited unexpectedly.",
    "java": "The action did not produce a valid response and exited unexpectedly.",
    "rust": "The action did not produce a valid response and exited unexpectedly.",
}


def snippet(runtime: RuntimeUnderTest, name: str) -> str:
    """The test action ``name`` in the runtime's dialect, or skip the test where it does not apply."""
    reason = NOT_APPLICABLE.get(runtime.dialect, {}).get(name)
    if reason is not None:
        pytest.skip(f"not applicable to {runtime.id}: {reason}")
    if runtime.dialect == "java":
        return java_jar(JAVA_SNIPPETS[name])
    if runtime.dialect == "rust":
        return RUST_SNIPPETS[name]
    return SNIPPETS[runtime.dialect][name]
