"""The child process that runs the action (OpenWhisk's ActionLoop launcher).

The proxy starts it before any /init (a prewarmed container then pays only for importing the action):
its first stdin line says where the code is, its ``main`` and the init ``env``; it exports that env,
imports the code once, then loops: one JSON line from stdin per activation, ``main(value)``, flush
stdout/stderr, one tagged result line on the result pipe. Its stdout/stderr are the container's, so
whatever the action prints becomes its logs.

Usage: python3 -P -m actionproxy.launcher RESULT_FD
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import site
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from actionproxy.protocol import OUT_OF_MEMORY, TAG_BAD_RESULT, TAG_INIT_ERROR, TAG_READY, TAG_RESULT, env_string
from actionproxy.source import ENTRY_FILE, site_dirs

Entry = Callable[[Any], Any]


class LoadError(Exception):
    """The code cannot be started; the message is the /init error."""


def main(argv: list[str] | None = None) -> int:
    (result_fd,) = argv if argv is not None else sys.argv[1:]
    fd = int(result_fd)
    os.set_inheritable(fd, False)  # processes the action forks must not hold the pipe open
    results = os.fdopen(fd, "wb")
    requests = _take_stdin()
    # The interpreter's first compile costs about 1.5 ms (its compiler's one-time set-up), ten times a small
    # action's own: paid here, while the launcher waits as a spare, instead of inside the next /init.
    compile("def _(): pass", "<warm-up>", "exec")
    first = requests.readline()
    if not first.endswith(b"\n"):
        return 0  # the proxy stopped before any /init
    setup = json.loads(first)
    action_dir = Path(setup["folder"])
    os.chdir(action_dir)
    os.environ.update({str(k): str(v) for k, v in (setup.get("env") or {}).items()})  # before the code loads
    try:
        entry = load(action_dir, str(setup["main"]))
    except LoadError as exc:
        _send(results, TAG_INIT_ERROR, str(exc))
        return 1
    _send(results, TAG_READY, True)
    serve(entry, requests, results, (os.dup(1), os.dup(2)))
    return 0


def _take_stdin() -> BinaryIO:
    # The protocol owns stdin; the action gets /dev/null so reading input cannot eat a request.
    requests = os.fdopen(os.dup(0), "rb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return requests


def load(folder: Path, main_name: str) -> Entry:
    """Import ``__main__.py`` as module ``main__`` (so ``if __name__ == "__main__"`` blocks stay quiet)."""
    _extend_path(folder)
    try:
        spec = importlib.util.spec_from_file_location("main__", folder / ENTRY_FILE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["main__"] = module
        spec.loader.exec_module(module)
    except Exception as exc:  # SyntaxError, or any error the code raises while it loads
        traceback.print_exc()
        raise LoadError(f"Cannot start action: {type(exc).__name__}: {exc}") from exc
    entry: Entry | None = getattr(module, main_name, None)
    if not callable(entry):
        message = f"Cannot start action: the code has no function named '{main_name}'."
        print(message, file=sys.stderr, flush=True)
        raise LoadError(message)
    return entry


def _extend_path(folder: Path) -> None:
    """The action folder first (helper modules), then a shipped virtualenv, then the rest."""
    before = list(sys.path)
    for packages in site_dirs(folder):
        site.addsitedir(str(packages))  # also runs the venv's .pth files
    added = [p for p in sys.path if p not in before]
    sys.path[:] = [str(folder), *added, *before]


def serve(entry: Entry, requests: BinaryIO, results: BinaryIO, stdio: tuple[int, int] | None = None) -> None:
    """``stdio``: private copies of the container's stdout and stderr, so each activation starts with both
    working even if an earlier one closed or replaced them.

    Each activation's ``__OW_*`` variables replace the previous one's: a variable the request does not bring
    (``__OW_API_KEY`` for an action that is not given a key) is removed, so no activation sees a credential
    of an earlier one."""
    exported: set[str] = set()
    for line in requests:
        if stdio is not None:
            _restore_stdio(stdio)
        request = json.loads(line)
        current = {"__OW_" + key.upper(): env_string(value) for key, value in request.items() if key != "value"}
        for name in exported - current.keys():
            os.environ.pop(name, None)
        os.environ.update(current)
        exported = set(current)
        try:
            result = entry(request.get("value", {}))
        except MemoryError:  # its memory limit (an rlimit, in process containers): the action's fault, not its result
            _flush_stdio()
            _send(results, TAG_BAD_RESULT, OUT_OF_MEMORY)
            continue
        except Exception as exc:  # an application error: reported, and the container lives on
            traceback.print_exc()
            result = {"error": str(exc)}
        _flush_stdio()  # all the action's output lands before the proxy writes the sentinel
        try:
            _send(results, TAG_RESULT, result)
        except (TypeError, ValueError, RecursionError) as exc:
            _send(results, TAG_BAD_RESULT, f"The action did not return a valid JSON value: {exc}")


def _restore_stdio(saved: tuple[int, int]) -> None:
    for fd, copy, name in ((1, saved[0], "stdout"), (2, saved[1], "stderr")):
        try:
            os.fstat(fd)
        except OSError:  # closed by the action: point it at the container's stream again
            os.dup2(copy, fd)
        stream = getattr(sys, name, None)
        if stream is None or getattr(stream, "closed", True) or not hasattr(stream, "write"):
            setattr(sys, name, io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding="utf-8",
                                                errors="backslashreplace", line_buffering=True, write_through=True))


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):  # the action closed/replaced it
            stream.flush()


def _send(results: BinaryIO, tag: bytes, payload: object) -> None:
    body = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    results.write(tag + body.encode("utf-8") + b"\n")
    results.flush()


if __name__ == "__main__":
    sys.exit(main())
