"""Run an executable per activation, as OpenWhisk's ``dockerskeleton`` image does.

/init writes the code to an ``exec`` file (text with a shebang, or a zip holding ``exec`` at its top),
made executable; without code the image's own executable (``exec_path``) is used. Each /run starts it
with the parameters as one JSON argument (and on stdin, the only way past Linux's 128 KiB argument
limit), the /init ``env`` and the run's ``__OW_*`` in its environment (OpenWhisk's skeleton drops
the /init env; passing it on lets init parameters reach a blackbox action). Its stdout but the last
line, and its stderr, are its logs; the last stdout line is the result, a JSON object or array.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import TextIO

from actionproxy import protocol
from actionproxy.config import ProxyConfig
from actionproxy.runner import Reply, SerialRunner, init_value, run_request
from actionproxy.source import SourceError, unpack

EXEC_FILE = "exec"
MAX_ARG_BYTES = 131071  # MAX_ARG_STRLEN - 1 (linux/binfmts.h): longer arguments go on stdin only
NO_BINARY = "The action failed to generate or locate a binary. See logs for details."


class ExecRunner(SerialRunner):
    def __init__(
        self, config: ProxyConfig, stdout: TextIO | None = None, stderr: TextIO | None = None
    ) -> None:
        super().__init__(config, stdout, stderr)
        self._binary = Path(config.exec_path)
        self._env: dict[str, str] = {}

    def _init(self, raw: bytes) -> Reply:
        value = init_value(raw, self._initialized, self._config, self._stderr)
        if isinstance(value, Reply):
            return value
        code = value.get("code")
        binary = Path(self._config.exec_path)
        if isinstance(code, str):  # "" too: an empty script replaces the image's executable, as in OpenWhisk
            try:
                binary = self._materialise(code, bool(value.get("binary")))
            except (SourceError, OSError) as exc:
                print(exc, file=self._stderr, flush=True)
                return Reply.error(502, NO_BINARY)
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            print(f"{binary} is not an executable file", file=self._stderr, flush=True)
            return Reply.error(502, NO_BINARY)
        self._binary = binary
        self._env = {str(k): protocol.env_string(v) for k, v in (value.get("env") or {}).items()}
        self._initialized = True
        return Reply.of(200, {"ok": True})

    def _materialise(self, code: str, binary: bool) -> Path:
        folder = Path(tempfile.mkdtemp(prefix="action-", dir=self._config.work_dir))
        unpack(code, binary, folder, text_name=EXEC_FILE)
        path = folder / EXEC_FILE
        if not path.is_file():
            raise SourceError(f"Zip file does not include {EXEC_FILE} at its top level.")
        # zipfile does not keep modes: make it runnable, as it must be.
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return path

    def _run(self, raw: bytes) -> Reply:
        request = run_request(raw)
        if isinstance(request, Reply):
            return request
        args = request.get("value", {})
        if not (self._binary.is_file() and os.access(self._binary, os.X_OK)):
            return Reply.error(502, "The action failed to locate a binary. See logs for details.")
        env = {**os.environ, **self._env}
        env.update({"__OW_" + k.upper(): protocol.env_string(v) for k, v in request.items() if k != "value"})
        text = json.dumps(args, ensure_ascii=False)
        argv = [str(self._binary)] + ([text] if len(text.encode("utf-8")) <= MAX_ARG_BYTES else [])
        try:
            done = subprocess.run(argv, input=text.encode("utf-8"), capture_output=True, env=env,
                                  cwd=self._binary.parent, check=False)
        except OSError as exc:  # e.g. an empty exec: "Exec format error"; on stdout, as OpenWhisk's skeleton
            print(f"Cannot run {self._binary}: {exc}", file=self._stdout, flush=True)
            return Reply.error(502, protocol.NOT_A_DICT)
        out = done.stdout.decode("utf-8", errors="replace")
        # The last line is the result, even if empty; everything before it is logged.
        cut = out.rfind("\n", 0, len(out) - 1)
        result_line = out[cut + 1:].strip() if cut != -1 else out.strip()
        if cut != -1:
            self._stdout.write(out[:cut + 1])
        if done.stderr:
            self._stderr.write(done.stderr.decode("utf-8", errors="replace"))
        try:
            result = json.loads(result_line)
        except ValueError:
            result = None
        if isinstance(result, dict | list):
            return Reply(200, json.dumps(result, ensure_ascii=False).encode("utf-8"))
        self._stdout.write(result_line + "\n")
        return Reply.error(502, protocol.NOT_A_DICT)

    def close(self) -> None:
        return None  # nothing outlives a /run
