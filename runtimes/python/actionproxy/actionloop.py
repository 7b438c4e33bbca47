"""The action loop: one long-running executable per container, as OpenWhisk's newer runtimes run every language.

/init unpacks the code into ``src/`` (text as ``src/exec``, a zip as its files), then finds the executable:
a zip holding ``exec`` at its top is one already built (copied to ``bin/exec`` and run as it is); otherwise the
kind's compiler (``PROXY_COMPILER``, called as ``compile <main> <src> <bin>``) builds ``bin/exec``, its output
going to the logs; otherwise the kind's launcher (``PROXY_LAUNCHER``, called as ``launch <src> <main>``) runs
the source as it is (interpreted languages). The executable starts with the /init ``env`` in its environment
and file descriptor 3 open for writing; with ``PROXY_WAIT_FOR_ACK`` it first writes ``{"ok": true}`` there.

Each /run writes the request (``value`` and the ``__OW_*`` keys) as one JSON line to its stdin and reads the
result as one JSON line from fd 3; whatever it writes on stdout and stderr meanwhile is the activation's log,
and the proxy ends each with the sentinels. The protocol is OpenWhisk's (``openwhisk-runtime-go``'s
``docs/ACTION.md``): an executable built for an OpenWhisk action-loop runtime runs here unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import TextIO

from actionproxy import protocol
from actionproxy.config import ProxyConfig
from actionproxy.runner import PipedChild, Reply, SerialRunner, init_value, run_request
from actionproxy.source import SourceError, unpack

EXEC_FILE = "exec"
NO_BINARY = "The action failed to generate or locate a binary. See logs for details."
"""OpenWhisk's words for a compile that failed or made nothing to run."""
NOT_STARTED = "Cannot start action. Check logs for details."
EXITED = "Cannot start action: the action exited during initialization (exit code {code}). Check logs for details."


class _Loop(PipedChild):
    """The running executable: requests in on its stdin, results out on the pipe it holds as fd 3."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str]) -> None:
        read_fd, write_fd = os.pipe()
        if write_fd != 3:
            # Popen cannot place a descriptor at a given number: the shell moves it to 3, then execs the action.
            # bash, not sh: dash takes only one-digit descriptors ("Bad fd number" once the proxy holds ten).
            command = ["/bin/bash", "-c", f'exec "$@" 3>&{write_fd} {write_fd}>&-', "action", *command]
        try:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, cwd=cwd, env=env, pass_fds=(write_fd,))
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)  # only the child holds the write end, so its exit reads as EOF
        self._attach(process, read_fd)


class LoopRunner(SerialRunner):
    def __init__(
        self, config: ProxyConfig, stdout: TextIO | None = None, stderr: TextIO | None = None
    ) -> None:
        super().__init__(config, stdout, stderr)
        self._loop: _Loop | None = None

    # --- /init ----------------------------------------------------------------------------------------

    def _init(self, raw: bytes) -> Reply:
        value = init_value(raw, self._initialized, self._config, self._stderr)
        if isinstance(value, Reply):
            return value
        code = value.get("code")
        if not code or not isinstance(code, str):
            return Reply.error(403, protocol.NO_CODE)
        main = str(value.get("main") or "main")
        folder = Path(tempfile.mkdtemp(prefix="action-", dir=self._config.work_dir))
        src, bin_ = folder / "src", folder / "bin"
        src.mkdir()
        bin_.mkdir()
        try:
            zipped = unpack(code, bool(value.get("binary")), src, text_name=EXEC_FILE)
        except SourceError as exc:
            print(exc, file=self._stderr, flush=True)
            return Reply.error(502, str(exc))
        command = self._command(src, bin_, main, built=zipped and (src / EXEC_FILE).is_file())
        if command is None:
            return Reply.error(502, NO_BINARY)
        env = {**os.environ, **{str(k): protocol.env_string(v) for k, v in (value.get("env") or {}).items()}}
        env["__OW_ACTION_MAIN"] = main  # launchers of languages without a fixed entry point find it here
        self._stop_loop()
        try:
            loop = _Loop(command, bin_ if command[0].startswith(str(bin_)) else src, env)
        except OSError as exc:
            print(f"Cannot start {command[0]}: {exc}", file=self._stderr, flush=True)
            return Reply.error(502, NOT_STARTED)
        if self._config.wait_for_ack:
            refused = _refusal(loop.read())
            if refused is not None:
                loop.stop()
                if refused == EXITED:
                    refused = EXITED.format(code=loop.process.returncode)
                return Reply.error(502, refused)
        self._loop = loop
        self._initialized = True
        return Reply.of(200, {"ok": True})

    def _command(self, src: Path, bin_: Path, main: str, *, built: bool) -> list[str] | None:
        """How to start the action: its own executable, one the compiler built, or the launcher on the source;
        None (with why in the logs) when there is none."""
        target = bin_ / EXEC_FILE
        if built:  # a zip with ``exec`` at its top: already built, run without compiling
            shutil.move(str(src / EXEC_FILE), target)
        elif self._config.compiler:
            if not self._compile(main, src, bin_):
                return None
        elif self._config.launcher:
            return [self._config.launcher, str(src), main]
        if not target.is_file():
            print(f"{target.name} was not found: a zip of this kind needs an executable 'exec' at its top",
                  file=self._stderr, flush=True)
            return None
        # zipfile keeps no modes: the executable must be runnable, as it must be in OpenWhisk.
        target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return [str(target)]

    def _compile(self, main: str, src: Path, bin_: Path) -> bool:
        """Run the kind's compiler. When it fails its messages go to the logs, where OpenWhisk's runtimes put
        them; when it succeeds they are dropped (its warnings would land in the first activation's logs)."""
        try:
            done = subprocess.run([self._config.compiler, main, str(src), str(bin_)], capture_output=True,
                                  cwd=src, check=False)
        except OSError as exc:
            print(f"Cannot run the compiler {self._config.compiler}: {exc}", file=self._stderr, flush=True)
            return False
        if done.returncode == 0 and (bin_ / EXEC_FILE).is_file():
            return True
        for output in (done.stdout, done.stderr):
            if output:
                self._stderr.write(output.decode("utf-8", errors="replace"))
        self._stderr.flush()
        return False

    # --- /run -----------------------------------------------------------------------------------------

    def _run(self, raw: bytes) -> Reply:
        loop = self._loop
        if loop is None and not self._initialized:
            return Reply.error(500, protocol.NOT_INITIALIZED)
        if loop is None:
            return Reply.error(502, protocol.EXITED_ON_RUN)
        request = run_request(raw)
        if isinstance(request, Reply):
            return request
        line = json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        result = loop.read() if loop.send(line) else None
        if result is None:
            loop.stop()
            self._loop = None
            return Reply.error(502, protocol.EXITED_ON_RUN)
        try:
            parsed = json.loads(result)  # an executable of any origin: checked, not trusted
        except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
            parsed = None
        if isinstance(parsed, dict | list):
            return Reply(200, result)
        print(f"The action wrote a result that is not a JSON object or array: {result[:200]!r}",
              file=self._stderr, flush=True)
        return Reply.error(502, protocol.NOT_A_DICT)

    # --- both -----------------------------------------------------------------------------------------

    def _stop_loop(self) -> None:
        if self._loop is not None:
            self._loop.stop()
            self._loop = None

    def close(self) -> None:
        self._stop_loop()


def _refusal(line: bytes | None) -> str | None:
    """None when the executable's first line is the ack ``{"ok": true}``; else the /init error: the message of an
    ``{"error": ...}`` line (Squall's launchers say why the code did not load), or what else came."""
    if line is None:
        return EXITED
    try:
        first = json.loads(line)
    except (ValueError, RecursionError):
        first = None
    if first == {"ok": True}:
        return None
    if isinstance(first, dict) and isinstance(first.get("error"), str):
        return str(first["error"])
    return f"{NOT_STARTED} (its first line on fd 3 was not {{\"ok\": true}})"
