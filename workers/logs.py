"""Collect one activation's log lines from its container (OpenWhisk ``DockerToActivationLogStore``).

The proxy writes a sentinel line on stdout and on stderr after each run (and after a failed init);
an activation's logs are the lines from where the previous collection stopped up to both sentinels.
Why read the json-file directly: it is a local file read from a remembered byte offset, no round trip
to the engine, and it is what OpenWhisk does. The engine's API is the fallback when the file cannot
be read (another host's engine, no permission).

Squall's own proxies also hand the lines back with the ``/run`` answer (``runtimes/python/actionproxy/capture.py``):
the engine copies a container's output to its file some milliseconds after the reply, 15 ms at the median under
load, and the invoker's thread waited and polled all that time. Those lines are taken as they come (``InlineLogs``)
and the file is not read. The proxy passes every line on to the engine too, so when an activation of such a
container ends without an answer (a timeout, a container that died), its lines are the file's last ones after the
sentinels of each stream (``_read_tail``): the offset in ``LogCursor`` stopped where the inline answers began.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from app.core.errors import ContainerError
from workers.factories.base import Container, LogEntry, rfc3339_ns

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
WAIT_S = 5.0
"""How long the sentinels may trail the reply: Docker copies a container's output to the file asynchronously,
and on a loaded host that copy fell more than 2 s behind (a CI run's record then held only the warning below).
Collection ends as soon as both sentinels are read, so only output that never ends waits this long."""
DEVELOPER_ERROR_WAIT_S = 0.25  # a failed action may never print them: do not hold the record for long
DEVELOPER_ERROR_WARNING = "The action did not initialize or run as expected. Log data might be missing."
COLLECTION_WARNING = "There was an issue while collecting your logs. Data might be missing."
_STREAMS = ("stdout", "stderr")
_POLL_FIRST_S = 0.001
_POLL_MAX_S = 0.02
CHUNK_BYTES = 1 << 20
TAIL_SLACK_BYTES = 1 << 20  # the engine's JSON around each line, beyond the text itself


@dataclass
class LogCursor:
    """Where the previous collection stopped, per container."""

    offset: int = 0  # bytes into the json-file log
    inode: int = 0  # which file the offset is into (the engine rotates it): 0 before the first read
    since_ns: int = 0  # time of the last consumed line, for the API fallback
    inline: bool = False  # the proxy has answered with the lines: ``offset`` stopped there


@dataclass(frozen=True)
class InlineLogs:
    """An activation's lines as its proxy sent them with the answer."""

    lines: list[LogEntry]
    truncated: bool  # the proxy kept no more than the limit
    complete: bool  # the proxy saw both sentinels (else lines may be missing)


def parse_inline(raw: bytes) -> InlineLogs | None:
    """The proxy's ``{"chunks": [[time, stream, text], ...], "truncated": .., "complete": ..}``, each text one or more
    lines read at that time; None when it is not that (the lines are then read from the engine). Checked, never
    trusted: the action runs in that container."""
    try:
        document = json.loads(raw)
        lines = [LogEntry(time_text, stream if stream in _STREAMS else "stdout", line.rstrip("\r"))
                 for when, stream, text in document["chunks"] if isinstance(text, str)
                 for time_text in (_time_text(when),) for line in text.split("\n")]
        return InlineLogs(lines, document["truncated"] is True, document["complete"] is True)
    except (ValueError, KeyError, TypeError):
        return None


def _time_text(value: object) -> str:
    """The engine's time format, or now when the proxy sent something else."""
    return value if isinstance(value, str) and rfc3339_ns(value) else _now_nano()


def format_line(time_text: str, stream: str, text: str) -> str:
    """OpenWhisk's activation log line; ``wsk activation logs --strip`` relies on the shape."""
    return f"{time_text:<30} {stream}: {text}"


def truncation_message(limit_bytes: int) -> str:
    return f"Logs were truncated because the total bytes size exceeds the limit of {limit_bytes} bytes."


class _Collection:
    """Accumulates lines until both sentinels, keeping at most ``limit_bytes`` of log text."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.lines: list[str] = []
        self.size = 0
        self.truncated = False  # past the limit: lines are consumed, not kept
        self.noted = False  # the truncation note is in ``lines``
        self.lines_lost = False  # to the engine's log rotation
        self.sentinels: set[str] = set()

    @property
    def complete(self) -> bool:
        return len(self.sentinels) == len(_STREAMS)

    def lost(self) -> None:
        """Lines were lost to the engine's log rotation (more than a log file's worth since the last read, so past
        the limit): what follows is kept within the limit, and the truncation is noted at the end (``finish``)."""
        self.lines_lost = True

    def finish(self) -> None:
        if self.lines_lost:
            self._note()

    def missing(self, developer_error: bool) -> None:
        """End with the line that says data might be missing."""
        warning = DEVELOPER_ERROR_WARNING if developer_error else COLLECTION_WARNING
        self.lines.append(format_line(_now(), "stderr", warning))

    def truncated_by_proxy(self) -> None:
        self.truncated = True
        self._note()

    def _note(self) -> None:
        if not self.noted:
            self.noted = True
            self.lines.append(format_line(_now(), "stderr", truncation_message(self.limit_bytes)))

    def add(self, entry: LogEntry) -> None:
        """Take one line; after truncation keep consuming (to reach the sentinels) without keeping."""
        before = _before_sentinel(entry.text)
        if before is not None:
            if before.strip():  # the action's last output had no newline: it ran into the sentinel
                self.add(LogEntry(entry.time, entry.stream, before))
            self.sentinels.add(entry.stream)
            return
        if self.truncated:
            return
        self.size += len(entry.text.encode("utf-8"))
        if self.size > self.limit_bytes:
            self.truncated = True
            self._note()
            return
        self.lines.append(format_line(entry.time, entry.stream, entry.text))


def collect_logs(container: Container, cursor: LogCursor, limit_mb: int, developer_error: bool,
                 inline: InlineLogs | None = None) -> list[str]:
    """The activation's formatted log lines: ``inline`` when its proxy sent them, else read from the engine,
    advancing ``cursor`` past its sentinels.

    Waits up to ``WAIT_S`` for the sentinels (``DEVELOPER_ERROR_WAIT_S`` after a developer error);
    if they never came, ends with a stderr line saying data might be missing.
    """
    if limit_mb <= 0:
        return []
    collection = _Collection(limit_mb * 1024 * 1024)
    if inline is not None:
        return _take_inline(inline, cursor, collection, developer_error)
    deadline = time.monotonic() + (DEVELOPER_ERROR_WAIT_S if developer_error else WAIT_S)
    if cursor.inline:
        return _after_inline(container, cursor, collection, developer_error, deadline)
    pause = _POLL_FIRST_S
    use_file = container.log_path is not None
    while True:
        if use_file:
            try:
                _read_file(container.log_path or "", cursor, collection)
            except OSError:
                use_file = False  # e.g. the engine rotated or hid it: ask the API from the last time seen
                continue
        else:
            try:
                _read_api(container, cursor, collection)
            except ContainerError:
                break
        remaining = deadline - time.monotonic()
        if collection.complete or remaining <= 0:
            break
        time.sleep(min(pause, remaining))  # polling a file the engine appends to; not synchronisation
        pause = min(pause * 2, _POLL_MAX_S)
    collection.finish()
    if not collection.complete:
        collection.missing(developer_error)
    return collection.lines


def _take_inline(inline: InlineLogs, cursor: LogCursor, collection: _Collection, developer_error: bool) -> list[str]:
    cursor.inline = True
    for entry in inline.lines:
        collection.add(entry)  # the proxy sends no sentinel; one here would only be dropped
    if inline.truncated:
        collection.truncated_by_proxy()
    if inline.lines:
        cursor.since_ns = max(cursor.since_ns, *(entry.time_ns for entry in inline.lines))
    if not inline.complete:
        collection.missing(developer_error)
    return collection.lines


def _after_inline(container: Container, cursor: LogCursor, collection: _Collection, developer_error: bool,
                  deadline: float) -> list[str]:
    """An activation without an answer in a container whose proxy answered with the lines before: no sentinel
    will mark its end, so wait out the engine's copy for the usual time, then take each stream's lines after its
    last sentinel."""
    time.sleep(max(deadline - time.monotonic(), 0))  # the engine's copy trails; nothing else to wait on
    entries: list[LogEntry] | None = None
    whole = True
    if container.log_path:
        with contextlib.suppress(OSError):
            entries, whole = _read_tail(container.log_path, collection.limit_bytes)
    if entries is None:
        entries = []
        with contextlib.suppress(ContainerError):  # an unreachable engine: the warning alone
            entries = container.api_logs(cursor.since_ns + 1 if cursor.since_ns else 0)
    last = {entry.stream: index for index, entry in enumerate(entries) if _before_sentinel(entry.text) is not None}
    if not whole and len(last) < len(_STREAMS):  # a stream's start may lie before what was read
        collection.lost()
    for index, entry in enumerate(entries):
        if index > last.get(entry.stream, -1):
            collection.add(entry)
    collection.finish()
    collection.missing(developer_error)
    return collection.lines


def _before_sentinel(text: str) -> str | None:
    """What precedes the sentinel when the line ends with it (usually nothing), else None."""
    stripped = text.rstrip()
    return stripped[:-len(SENTINEL)] if stripped.endswith(SENTINEL) else None


def _read_tail(path: str, limit_bytes: int) -> tuple[list[LogEntry], bool]:
    """The log file's last lines: enough to hold ``limit_bytes`` of text twice over in the engine's JSON, and
    whether that is the whole file."""
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        start = max(size - (2 * limit_bytes + TAIL_SLACK_BYTES), 0)
        file.seek(start)
        data = file.read()
    if start:
        data = data[data.find(b"\n") + 1:]  # the first line read is only the end of one
    entries = [_parse_json_line(raw) for raw in data.split(b"\n") if raw]
    return [entry for entry in entries if entry is not None], start == 0 and not os.path.exists(path + ".1")


def _read_file(path: str, cursor: LogCursor, collection: _Collection) -> None:
    """Read on from ``cursor.offset``, in chunks of ``CHUNK_BYTES`` (a flood is never held in memory whole).

    The engine rotates the file at ``invoker.log_file_mb`` and keeps one older file (``<path>.1``): when the file
    is another one than the offset is into, it was rotated, so the rest of the older file is read first, then the
    new one from its start. Lines lost to a second rotation between two reads are past the log limit anyway; the
    collection notes a truncation."""
    status = os.stat(path)
    inode = status.st_ino
    if not cursor.inode and os.path.exists(path + ".1"):  # rotated before the first read: its start is gone
        collection.lost()
    if cursor.inode and (inode != cursor.inode or status.st_size < cursor.offset):  # (a freed inode is reused)
        rotated = path + ".1"
        try:
            older = os.stat(rotated).st_ino
        except FileNotFoundError:
            older = 0
        if older == cursor.inode and inode != cursor.inode:
            _read_from(rotated, cursor, collection)
        else:
            collection.lost()
        if collection.complete:  # it ended inside the older file: the cursor stays there
            return
        cursor.offset = 0
    cursor.inode = inode
    _read_from(path, cursor, collection)


def _read_from(path: str, cursor: LogCursor, collection: _Collection) -> None:
    with open(path, "rb") as file:
        file.seek(cursor.offset)
        while not collection.complete:
            data = file.read(CHUNK_BYTES)
            if not data:
                return
            position = 0
            while not collection.complete:
                end = data.find(b"\n", position)
                if end < 0:
                    break
                entry = _parse_json_line(data[position:end])
                position = end + 1
                if entry is not None:
                    collection.add(entry)
                    cursor.since_ns = entry.time_ns
            cursor.offset += position
            if position == 0:  # a line longer than a chunk (the engine splits lines at 16 KB) or partly written
                return
            file.seek(cursor.offset)


def _parse_json_line(raw: bytes) -> LogEntry | None:
    try:
        record = json.loads(raw)
        return LogEntry(str(record["time"]), str(record["stream"]), str(record["log"]).rstrip("\r\n"))
    except (ValueError, KeyError, TypeError):
        return None


def _read_api(container: Container, cursor: LogCursor, collection: _Collection) -> None:
    for entry in container.api_logs(cursor.since_ns + 1 if cursor.since_ns else 0):
        if collection.complete:
            break
        collection.add(entry)
        cursor.since_ns = max(cursor.since_ns, entry.time_ns)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now_nano() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
