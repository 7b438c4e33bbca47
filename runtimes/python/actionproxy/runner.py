"""The action's lifecycle inside one container: /init starts a launcher child, /run talks to it.

All state lives on an ``ActionRunner``; one lock serialises /init and /run (one activation at a time).
The sentinel is written here because it marks the end of an activation, whatever HTTP says about it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, BinaryIO, TextIO

from actionproxy import protocol
from actionproxy.capture import OutputCapture
from actionproxy.config import ProxyConfig
from actionproxy.source import SourceError, materialise

# The folder holding the actionproxy package, so the launcher can import it by name.
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)
_EXIT_WAIT_S = 10.0  # how long to wait for a launcher whose result pipe closed to finish exiting


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    logs: tuple[bytes, ...] | None = None  # the activation's log lines in parts, when asked for (actionproxy.capture)

    @classmethod
    def of(cls, status: int, payload: object) -> Reply:
        return cls(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))

    @classmethod
    def error(cls, status: int, message: str) -> Reply:
        return cls.of(status, {"error": message})


class PipedChild:
    """A child process with two pipes: requests in on its stdin, result lines out on a pipe of its own.
    Subclasses start the process and hand the pipe's read end to ``_attach``."""

    process: subprocess.Popen[bytes]
    requests: IO[bytes]
    results: BinaryIO

    def _attach(self, process: subprocess.Popen[bytes], read_fd: int) -> None:
        self.process = process
        self.results = os.fdopen(read_fd, "rb")
        assert process.stdin is not None
        self.requests = process.stdin

    def read(self) -> bytes | None:
        """The next complete result line without its newline, or None once the child has exited."""
        line = self.results.readline()
        if line.endswith(b"\n"):
            return line[:-1]
        return None

    def send(self, line: bytes) -> bool:
        try:
            self.requests.write(line)
            self.requests.flush()
        except (BrokenPipeError, ValueError, OSError):
            return False
        return True

    def reap(self) -> int | None:
        try:
            return self.process.wait(timeout=_EXIT_WAIT_S)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.reap()
        for stream in (self.requests, self.results):
            with contextlib.suppress(OSError):
                stream.close()


class SerialRunner:
    """What every runner shares: one /init or /run at a time (a lock), and each activation ended with the
    sentinels on both streams, after every /run and every failed /init. Subclasses write ``_init`` and ``_run``."""

    def __init__(
        self, config: ProxyConfig, stdout: TextIO | None = None, stderr: TextIO | None = None
    ) -> None:
        self._config = config
        self._stdout = stdout or sys.stdout
        self._stderr = stderr or sys.stderr
        self._lock = threading.Lock()
        self._initialized = False
        self.capture: OutputCapture | None = None  # set once the proxy reads its own output

    def init(self, raw: bytes) -> Reply:
        with self._lock:
            reply = self._init(raw)
            if reply.status != 200:
                self._end_activation(None)
            return reply

    def run(self, raw: bytes, log_limit: int | None = None) -> Reply:
        """``log_limit``: the invoker's log limit in bytes when it wants the lines with the answer."""
        with self._lock:
            logs = None
            try:
                reply = self._run(raw)
            finally:
                logs = self._end_activation(log_limit)
            return reply if logs is None else replace(reply, logs=logs)

    def _init(self, raw: bytes) -> Reply:
        raise NotImplementedError

    def _run(self, raw: bytes) -> Reply:
        raise NotImplementedError

    def _end_activation(self, log_limit: int | None) -> tuple[bytes, ...] | None:
        for stream in (self._stdout, self._stderr):
            stream.write(protocol.SENTINEL + "\n")
            stream.flush()
        return self.capture.activation_end(log_limit) if self.capture is not None else None


class _Launcher(PipedChild):
    """One running launcher child and its two pipes (requests in on stdin, results out on a pipe).

    Started before /init and told at /init where the code is (``start``), so a prewarmed container does not
    pay for the interpreter's start on the reply path."""

    def __init__(self, cwd: str, env: dict[str, str]) -> None:
        read_fd, write_fd = os.pipe()
        try:
            # -P: the action folder is not put on sys.path before the launcher's own imports;
            # -X utf8: UTF-8 stdio whatever the container's locale.
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-P",
                    "-X",
                    "utf8",
                    "-u",
                    "-m",
                    "actionproxy.launcher",
                    str(write_fd),
                ],
                stdin=subprocess.PIPE,
                cwd=cwd,
                env=env,
                pass_fds=(write_fd,),
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)  # only the child may hold the write end, so its exit reads as EOF
        self._attach(process, read_fd)

    def start(self, folder: Path, main_name: str, env: dict[str, str]) -> bool:
        """Tell the waiting launcher what to load; False if it is gone."""
        setup = {"folder": str(folder), "main": main_name, "env": env}
        return self.send(json.dumps(setup, ensure_ascii=False).encode("utf-8") + b"\n")

    def read(self) -> bytes | None:
        """Next complete result line, or None once the launcher has exited (and been reaped)."""
        line = super().read()
        if line is None:
            self.reap()
        return line


class ActionRunner(SerialRunner):
    def __init__(
        self, config: ProxyConfig, stdout: TextIO | None = None, stderr: TextIO | None = None
    ) -> None:
        super().__init__(config, stdout, stderr)
        self._launcher: _Launcher | None = None
        self._spare: _Launcher | None = None
        try:
            self._spare = self._new_launcher()
        except OSError as exc:  # no spare: /init starts one itself
            print(f"could not start a spare launcher: {exc}", file=self._stderr, flush=True)

    def _new_launcher(self) -> _Launcher:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        return _Launcher(self._config.work_dir, env)

    def _take_launcher(self) -> _Launcher:
        """The spare started with the proxy if it still waits, else a new one."""
        spare, self._spare = self._spare, None
        if spare is not None and spare.process.poll() is None:
            return spare
        if spare is not None:
            spare.stop()
        return self._new_launcher()

    # --- /init ----------------------------------------------------------------------------------------

    def _init(self, raw: bytes) -> Reply:
        value = init_value(raw, self._initialized, self._config, self._stderr)
        if isinstance(value, Reply):
            return value
        code = value.get("code")
        if not code or not isinstance(code, str):  # "" too, as ActionLoop: an action always has code
            return Reply.error(403, protocol.NO_CODE)
        self._stop_launcher()
        try:
            folder = materialise(code, bool(value.get("binary")), self._config.work_dir)
        except SourceError as exc:
            print(exc, file=self._stderr, flush=True)
            return Reply.error(502, str(exc))
        # Exported by the launcher before the code loads, so module-level code sees them.
        env = {str(k): protocol.env_string(v) for k, v in (value.get("env") or {}).items()}
        launcher = self._take_launcher()
        line = launcher.read() if launcher.start(folder, str(value.get("main") or "main"), env) else None
        if line is None:
            code_ = launcher.process.returncode
            launcher.stop()
            return Reply.error(
                502,
                f"Cannot start action: the action exited during initialization "
                f"(exit code {code_}). Check logs for details.",
            )
        if line[:1] != protocol.TAG_READY:
            launcher.stop()
            return Reply.error(502, _message(line))
        self._launcher = launcher
        self._initialized = True
        return Reply.of(200, {"ok": True})

    # --- /run -----------------------------------------------------------------------------------------

    def _run(self, raw: bytes) -> Reply:
        launcher = self._launcher
        if launcher is None and not self._initialized:
            return Reply.error(500, protocol.NOT_INITIALIZED)
        if launcher is None:  # it exited during an earlier /run; the invoker should have dropped us
            return Reply.error(502, protocol.EXITED_ON_RUN)
        request = run_request(raw)
        if isinstance(request, Reply):
            return request
        # Re-serialised so the launcher always gets exactly one line, whatever the client's whitespace.
        line = json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        result = launcher.read() if launcher.send(line) else None
        if result is None:
            launcher.reap()
            launcher.stop()
            self._launcher = None
            return Reply.error(502, protocol.EXITED_ON_RUN)
        tag, payload = result[:1], result[1:]
        if tag == protocol.TAG_RESULT and payload[:1] in (b"{", b"["):
            return Reply(200, payload)  # already JSON: passed through unparsed
        if tag == protocol.TAG_RESULT:
            return Reply.error(502, protocol.NOT_A_DICT)
        return Reply.error(502, _message(result))

    # --- both -----------------------------------------------------------------------------------------

    def _stop_launcher(self) -> None:
        if self._launcher is not None:
            self._launcher.stop()
            self._launcher = None

    def close(self) -> None:
        """The proxy is stopping: the launcher and the spare go too."""
        self._stop_launcher()
        if self._spare is not None:
            self._spare.stop()
            self._spare = None


def init_value(raw: bytes, initialized: bool, config: ProxyConfig, log: TextIO) -> dict[str, object] | Reply:
    """The ``value`` of an /init body, or the error reply for a refused re-init or a malformed body.

    A refused re-init is also written to ``log``, as OpenWhisk's proxies do: the activation's logs say why."""
    if initialized and not config.allow_reinit:
        print(protocol.REINIT, file=log, flush=True)
        return Reply.error(403, protocol.REINIT)
    try:
        body = parse_body(raw)
    except ValueError as exc:
        return Reply.error(400, f"Cannot parse the /init body: {exc}")
    if not isinstance(body, dict):
        return Reply.error(400, "Cannot parse the /init body: the body must be a JSON object")
    value = body.get("value") or {}
    if not isinstance(value, dict):
        return Reply.error(400, "The /init body's value must be an object.")
    return value


def run_request(raw: bytes) -> dict[str, object] | Reply:
    """The /run body, or the error reply: 400 when it is not JSON, 404 with ``NOT_AN_ARGUMENT`` when it or its
    ``value`` is neither an object nor an array (OpenWhisk's reference proxy: the action never sees it). No
    ``value`` is ``{}``, as OpenWhisk's proxies have it."""
    try:
        body = parse_body(raw)
    except ValueError as exc:
        return Reply.error(400, f"Cannot parse the /run body: {exc}")
    if not isinstance(body, dict) or not isinstance(body.get("value", {}), dict | list):
        return Reply.error(404, protocol.NOT_AN_ARGUMENT)
    return body


def parse_body(raw: bytes) -> object:
    """The JSON of a request body; an empty body or ``null`` is ``{}`` (OpenWhisk's reference proxy)."""
    body = json.loads(raw.decode("utf-8")) if raw.strip() else None
    return {} if body is None else body


def _message(line: bytes) -> str:
    """The message string a launcher sent after its tag."""
    try:
        message = json.loads(line[1:].decode("utf-8"))
    except ValueError:
        message = None
    return message if isinstance(message, str) else "The action failed: " + line.decode("utf-8", "replace")
