"""The activation's log lines, handed back with its /run answer.

Without this the invoker reads each activation's lines from the engine's log file, and the engine copies a
container's output there asynchronously: under load that copy trailed the reply by 15 ms at the median and
57 ms at p90, and the invoker's thread polled the file all that time (docs/benchmarks.md, "Logs with the
answer"). So the proxy puts pipes in place of its own stdout and stderr (file descriptors 1 and 2, which every
child it starts inherits), reads them, and passes every byte on unchanged to the container's real streams at
once, so the engine's log file holds what it always held; each complete line is also kept, with the time it
was read, until the activation ends. When the invoker asks (``LOGS_HEADER`` on /run, with its log limit in
bytes) the kept lines go back with the answer.

The end of an activation is the sentinel line on each stream (``SerialRunner`` writes them after every /run):
they pass through the pipes behind everything the action wrote before its result, so once both are read the
activation's lines are all in.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from actionproxy import protocol

LOGS_HEADER = "X-Squall-Logs"
"""On /run: the log limit in bytes, and a request for the lines with the answer."""
LOGS_LENGTH_HEADER = "X-Squall-Logs-Length"
"""On the answer: the body starts with that many bytes of log lines (JSON), the result follows."""
KEEP_BYTES = 10 * 1024 * 1024 + 1
"""The most text kept per stream and activation: OpenWhisk's largest log limit (10 MB), and one byte to know
the limit was passed."""
END_WAIT_S = 5.0
"""How long the sentinels may take to pass the pipes (only a container stream that no one reads holds them)."""
_SENTINEL = protocol.SENTINEL.encode()
_STREAMS = ("stdout", "stderr")


@dataclass
class _Stream:
    name: str
    lines: list[tuple[int, int, str]] = field(default_factory=list)  # (epoch ns, order, text) since the sentinel
    size: int = 0
    over: bool = False  # past KEEP_BYTES since the last sentinel: later lines are passed on, not kept
    ended: deque[tuple[list[tuple[int, int, str]], bool]] = field(default_factory=deque)  # one per sentinel read


class OutputCapture:
    """Owns file descriptors 1 and 2 of this process from ``install`` on."""

    def __init__(self) -> None:
        self._streams = [_Stream(name) for name in _STREAMS]
        self._changed = threading.Condition()
        self._order = 0  # lines read in one chunk share a time: this keeps them in order

    def install(self) -> None:
        """Put a pipe in place of fd 1 and fd 2, each read by a thread that passes it on to the real stream."""
        for fd, stream in zip((1, 2), self._streams, strict=True):
            real = os.dup(fd)
            read_end, write_end = os.pipe()
            os.dup2(write_end, fd)
            os.close(write_end)
            threading.Thread(target=self._pump, args=(read_end, real, stream), name=f"capture-{stream.name}",
                             daemon=True).start()

    def activation_end(self, limit_bytes: int | None) -> bytes | None:
        """Wait (up to ``END_WAIT_S``) for the sentinels just written to come through; the activation's lines as
        the JSON to send with the answer when ``limit_bytes`` is given (else they are dropped)."""
        deadline = time.monotonic() + END_WAIT_S
        with self._changed:
            complete = self._changed.wait_for(lambda: all(s.ended for s in self._streams),
                                              max(deadline - time.monotonic(), 0))
            taken = [s.ended.popleft() if s.ended else self._take(s) for s in self._streams]
        if limit_bytes is None:
            return None
        return _answer(taken, limit_bytes, complete)

    def _take(self, stream: _Stream) -> tuple[list[tuple[int, int, str]], bool]:
        """What a stream holds when its sentinel never came: the lines so far (the rest follow the next one)."""
        lines, over = stream.lines, stream.over
        stream.lines, stream.size, stream.over = [], 0, False
        return lines, over

    def _pump(self, read_end: int, real: int, stream: _Stream) -> None:
        pending = b""
        while True:
            try:
                data = os.read(read_end, 1 << 16)
            except InterruptedError:
                continue
            if not data:
                return
            _write_all(real, data)  # first, and unchanged: the engine's log sees what it always saw
            now = time.time_ns()
            *lines, pending = (pending + data).split(b"\n")
            if lines:
                with self._changed:
                    for line in lines:
                        self._line(stream, now, line)
                    self._changed.notify_all()
            if len(pending) > KEEP_BYTES:  # a line without end: keep its start, as a line of its own
                with self._changed:
                    self._line(stream, now, pending)
                pending = b""

    def _line(self, stream: _Stream, now: int, line: bytes) -> None:
        if line.endswith(_SENTINEL):
            before = line[:-len(_SENTINEL)]
            if before.strip():  # output without a newline of its own ran into the sentinel
                self._line(stream, now, before)
            stream.ended.append(self._take(stream))
            return
        if stream.over:
            return
        text = line.decode("utf-8", errors="replace").rstrip("\r")
        stream.size += len(line)
        if stream.size > KEEP_BYTES:
            stream.over = True
            return
        self._order += 1
        stream.lines.append((now, self._order, text))


def _answer(taken: list[tuple[list[tuple[int, int, str]], bool]], limit_bytes: int, complete: bool) -> bytes:
    """``{"lines": [[time, stream, text], ...], "truncated": bool, "complete": bool}``, both streams' lines in
    the order they were read, at most ``limit_bytes`` of text (the invoker notes a truncation)."""
    merged = sorted((when, order, index, text) for index, (lines, _) in enumerate(taken) for when, order, text in lines)
    truncated = any(over for _, over in taken)
    kept: list[list[str]] = []
    size = 0
    for when, _, index, text in merged:
        size += len(text.encode("utf-8"))
        if size > limit_bytes:
            truncated = True
            break
        kept.append([rfc3339_nano(when), _STREAMS[index], text])
    return json.dumps({"lines": kept, "truncated": truncated, "complete": complete},
                      ensure_ascii=False).encode("utf-8")


def rfc3339_nano(epoch_ns: int) -> str:
    """The engine's time format (``2024-05-01T12:00:00.123456789Z``)."""
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:
            continue
        except OSError:
            return  # the container's stream is gone: the lines still go back with the answer
        view = view[written:]
