"""The activation's log lines, handed back with its /run answer.

Without this the invoker reads each activation's lines from the engine's log file, and the engine copies a
container's output there asynchronously: under load that copy trailed the reply by 15 ms at the median and
57 ms at p90, and the invoker's thread polled the file all that time (docs/benchmarks.md, "2026-12-07, night:
logs with the answer"). So the proxy puts pipes in place of its own stdout and stderr (file descriptors 1 and
2, which every child it starts inherits), reads them, and passes every byte on unchanged to the container's
real streams at once, so the engine's log file holds what it always held; each complete line is also kept,
with the time it was read, until the activation ends. When the invoker asks (``LOGS_HEADER`` on /run, with its
log limit in bytes) the kept lines go back with the answer, as chunks: the lines of one read share its time.

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
PUMP_STACK_BYTES = 256 * 1024
END_WAIT_S = 5.0
"""How long the sentinels may take to pass the pipes (only a container stream that no one reads holds them)."""
_SENTINEL = protocol.SENTINEL.encode()
_STREAMS = ("stdout", "stderr")


@dataclass
class _Stream:
    name: str
    # What was read since the last sentinel: (epoch ns, order, complete lines without their last newline), one
    # entry per read rather than per line, so an action printing a million short lines costs its bytes, not a
    # million objects.
    chunks: list[tuple[int, int, bytes]] = field(default_factory=list)
    size: int = 0  # bytes of text kept (newlines not counted, as the invoker counts)
    over: bool = False  # past KEEP_BYTES since the last sentinel: later lines are passed on, not kept
    ended: deque[tuple[list[tuple[int, int, bytes]], bool]] = field(default_factory=deque)  # one per sentinel


class OutputCapture:
    """Owns file descriptors 1 and 2 of this process from ``install`` on."""

    def __init__(self) -> None:
        self._streams = [_Stream(name) for name in _STREAMS]
        self._changed = threading.Condition()
        self._order = 0  # chunks of both streams read at one time: this keeps them in order

    def install(self) -> None:
        """Put a pipe in place of fd 1 and fd 2, each read by a thread that passes it on to the real stream."""
        # Small stacks: a process container's memory limit is on address space, and a thread's default stack
        # reserves 8 MB of it; these threads never recurse.
        previous = threading.stack_size(PUMP_STACK_BYTES)
        try:
            for fd, stream in zip((1, 2), self._streams, strict=True):
                real = os.dup(fd)
                read_end, write_end = os.pipe()
                os.dup2(write_end, fd)
                os.close(write_end)
                threading.Thread(target=self._pump, args=(read_end, real, stream), name=f"capture-{stream.name}",
                                 daemon=True).start()
        finally:
            threading.stack_size(previous)

    def activation_end(self, limit_bytes: int | None) -> tuple[bytes, ...] | None:
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

    def _take(self, stream: _Stream) -> tuple[list[tuple[int, int, bytes]], bool]:
        """What a stream holds at its sentinel (or when it never came): the rest follows the next one."""
        chunks, over = stream.chunks, stream.over
        stream.chunks, stream.size, stream.over = [], 0, False
        return chunks, over

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
            try:
                pending = self._read(stream, pending, data)
            except MemoryError:  # the action's memory limit holds the proxy too: keep nothing more, pass on
                with self._changed:
                    stream.chunks, stream.size, stream.over = [], 0, True
                pending = b""

    def _read(self, stream: _Stream, pending: bytes, data: bytes) -> bytes:
        """Keep what ``data`` completes; the start of a line still without its end is returned."""
        now = time.time_ns()
        data = pending + data
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) > KEEP_BYTES:  # a line without end: keep its start, as a line of its own
                with self._changed:
                    self._keep(stream, now, data)
                return b""
            return data
        lines = data[:cut]
        with self._changed:
            if _SENTINEL in lines:
                self._with_sentinels(stream, now, lines)
                self._changed.notify_all()
            else:
                self._keep(stream, now, lines)
        return data[cut + 1:]

    def _with_sentinels(self, stream: _Stream, now: int, lines: bytes) -> None:
        """Lines that hold a sentinel (once per activation): the lines before each go to the activation it ends."""
        kept: list[bytes] = []
        for line in lines.split(b"\n"):
            if line.endswith(_SENTINEL):
                before = line[:-len(_SENTINEL)]
                if before.strip():  # output without a newline of its own ran into the sentinel
                    kept.append(before)
                if kept:
                    self._keep(stream, now, b"\n".join(kept))
                    kept = []
                stream.ended.append(self._take(stream))
            else:
                kept.append(line)
        if kept:
            self._keep(stream, now, b"\n".join(kept))

    def _keep(self, stream: _Stream, now: int, lines: bytes) -> None:
        if stream.over:
            return
        size = len(lines) - lines.count(b"\n")
        if stream.size + size > KEEP_BYTES:
            stream.over = True
            lines = _cut(lines, KEEP_BYTES - stream.size)
            if not lines:
                return
            size = len(lines) - lines.count(b"\n")
        stream.size += size
        self._order += 1
        stream.chunks.append((now, self._order, lines))


def _cut(lines: bytes, room: int) -> bytes:
    """The whole lines of ``lines`` that fit in ``room`` bytes of text."""
    kept = 0
    end = 0
    for line in lines.split(b"\n"):
        if kept + len(line) > room:
            break
        kept += len(line)
        end += len(line) + 1
    return lines[:max(end - 1, 0)]


def _answer(taken: list[tuple[list[tuple[int, int, bytes]], bool]], limit_bytes: int,
            complete: bool) -> tuple[bytes, ...]:
    """``{"chunks": [[time, stream, text], ...], "truncated": bool, "complete": bool}``: each text is one or more
    lines (joined by newlines) read at that time, both streams' in the order they were read, at most
    ``limit_bytes`` of text in all (the invoker notes a truncation). Encoded a chunk at a time, each dropped once
    encoded, and returned in parts to be sent one after the other: a flood is held about twice at most, not
    once more per step of the encoding."""
    merged = sorted((when, order, index, lines) for index, (chunks, _) in enumerate(taken)
                    for when, order, lines in chunks)
    truncated = any(over for _, over in taken)
    taken.clear()  # the chunks are referenced from ``merged`` alone now
    pieces: list[bytes] = []
    size = 0
    merged.reverse()  # popped from the end, oldest first
    while merged:
        when, _, index, lines = merged.pop()
        text_bytes = len(lines) - lines.count(b"\n")
        if size + text_bytes > limit_bytes:
            truncated = True
            lines = _cut(lines, limit_bytes - size)
            merged.clear()
            if not lines:
                break
        size += text_bytes
        piece = json.dumps([rfc3339_nano(when), _STREAMS[index], lines.decode("utf-8", errors="replace")],
                           ensure_ascii=False)
        pieces.append((piece if not pieces else "," + piece).encode("utf-8"))
    tail = json.dumps({"truncated": truncated, "complete": complete})[1:].encode()
    return (b'{"chunks":[', *pieces, b"]," + tail)


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
