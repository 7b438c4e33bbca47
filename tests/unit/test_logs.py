"""Log collection over a docker json-file written by the test (the format docker writes)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from app.core.errors import ContainerError
from workers.factories.base import LogEntry
from workers.logs import (
    COLLECTION_WARNING,
    DEVELOPER_ERROR_WARNING,
    SENTINEL,
    InlineLogs,
    LogCursor,
    collect_logs,
    format_line,
    parse_inline,
    truncation_message,
)

pytestmark = pytest.mark.unit


class FileContainer:
    """A Container whose log is a json-file we append to; ``api_logs`` serves the same entries."""

    def __init__(self, path: Path | None, entries: list[LogEntry] | None = None, api_fails: bool = False) -> None:
        self.path = path
        self.entries = entries or []
        self.api_fails = api_fails
        self.seconds = 0

    id = "c1"
    name = "squall_test_1"
    host = "127.0.0.1"
    port = 8080
    memory_mb = 256

    @property
    def log_path(self) -> str | None:
        return str(self.path) if self.path else None

    def write(self, stream: str, text: str, newline: bool = True) -> LogEntry:
        self.seconds += 1
        minutes, seconds = divmod(self.seconds, 60)
        entry = LogEntry(f"2024-05-01T12:{minutes:02d}:{seconds:02d}.123456789Z", stream, text)
        self.entries.append(entry)
        if self.path is not None:
            record = json.dumps({"log": text + "\n", "stream": stream, "time": entry.time})
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(record + ("\n" if newline else ""))
        return entry

    def end(self) -> None:
        self.write("stdout", SENTINEL)
        self.write("stderr", SENTINEL)

    def api_logs(self, since_ns: int) -> list[LogEntry]:
        if self.api_fails:
            raise ContainerError("engine gone")
        return [e for e in self.entries if e.time_ns >= since_ns]

    def destroy(self) -> None:
        pass


@pytest.fixture
def container(tmp_path: Path) -> FileContainer:
    path = tmp_path / "c1-json.log"
    path.touch()
    return FileContainer(path)


def texts(lines: list[str]) -> list[str]:
    return [line[31:] for line in lines]


def test_collects_lines_up_to_both_sentinels_in_openwhisk_format(container):
    container.write("stdout", "hello")
    container.write("stderr", "oops")
    container.end()
    cursor = LogCursor()
    lines = collect_logs(container, cursor, 10, developer_error=False)
    assert lines == [
        format_line("2024-05-01T12:00:01.123456789Z", "stdout", "hello"),
        format_line("2024-05-01T12:00:02.123456789Z", "stderr", "oops"),
    ]
    assert lines[0] == "2024-05-01T12:00:01.123456789Z stdout: hello"
    assert cursor.offset == container.path.stat().st_size


def test_next_collection_starts_where_the_last_stopped(container):
    cursor = LogCursor()
    container.write("stdout", "first")
    container.end()
    assert texts(collect_logs(container, cursor, 10, False)) == ["stdout: first"]
    container.write("stdout", "second")
    container.end()
    assert texts(collect_logs(container, cursor, 10, False)) == ["stdout: second"]


def test_lines_after_the_sentinels_are_left_for_the_next_activation(container):
    cursor = LogCursor()
    container.write("stdout", "a")
    container.end()
    container.write("stdout", "b")
    container.end()
    assert texts(collect_logs(container, cursor, 10, False)) == ["stdout: a"]
    assert texts(collect_logs(container, cursor, 10, False)) == ["stdout: b"]


def test_a_partly_written_line_waits_for_its_newline(container):
    container.write("stdout", "whole")
    container.write("stdout", "half", newline=False)
    cursor = LogCursor()
    lines = collect_logs(container, cursor, 10, developer_error=True)
    assert texts(lines) == ["stdout: whole", f"stderr: {DEVELOPER_ERROR_WARNING}"]
    with open(container.path, "a") as file:
        file.write("\n")
    container.end()
    assert texts(collect_logs(container, cursor, 10, False)) == ["stdout: half"]


def test_missing_sentinels_after_a_developer_error_add_a_warning(container):
    container.write("stdout", "started")
    lines = collect_logs(container, LogCursor(), 10, developer_error=True)
    assert texts(lines) == ["stdout: started", f"stderr: {DEVELOPER_ERROR_WARNING}"]


def test_missing_sentinels_otherwise_add_the_collection_warning(container, monkeypatch):
    monkeypatch.setattr("workers.logs.WAIT_S", 0.05)
    container.write("stdout", "only")
    assert texts(collect_logs(container, LogCursor(), 10, False)) == ["stdout: only", f"stderr: {COLLECTION_WARNING}"]


def test_output_without_a_newline_that_ran_into_the_sentinel_is_a_line_and_the_end(container):
    container.write("stdout", "first")
    container.write("stdout", "no newline" + SENTINEL)
    container.write("stderr", SENTINEL)
    cursor = LogCursor()
    started = time.monotonic()
    lines = collect_logs(container, cursor, 10, developer_error=False)
    assert time.monotonic() - started < 1  # the end was seen: no wait for sentinels that never come
    assert texts(lines) == ["stdout: first", "stdout: no newline"]


def test_only_one_sentinel_is_not_enough(container):
    container.write("stdout", SENTINEL)
    lines = collect_logs(container, LogCursor(), 10, developer_error=True)
    assert texts(lines) == [f"stderr: {DEVELOPER_ERROR_WARNING}"]


def test_truncates_at_the_limit_and_still_reaches_the_sentinels(container):
    chunk = "x" * 1000
    for _ in range(1100):
        container.write("stdout", chunk)
    container.end()
    container.write("stdout", "next activation")
    container.end()
    cursor = LogCursor()
    lines = collect_logs(container, cursor, 1, developer_error=False)
    assert len(lines) == 1049
    assert lines[-1].endswith(f"stderr: {truncation_message(1048576)}")
    assert "1048576 bytes." in lines[-1]
    assert texts(collect_logs(container, cursor, 1, False)) == ["stdout: next activation"]


def test_log_limit_zero_collects_nothing(container):
    container.write("stdout", "ignored")
    container.end()
    assert collect_logs(container, LogCursor(), 0, developer_error=False) == []


def test_falls_back_to_the_api_without_a_readable_file():
    container = FileContainer(None)
    container.write("stdout", "via api")
    container.end()
    cursor = LogCursor()
    assert texts(collect_logs(container, cursor, 10, False)) == ["stdout: via api"]
    container.write("stderr", "again")
    container.end()
    assert texts(collect_logs(container, cursor, 10, False)) == ["stderr: again"]


def test_falls_back_to_the_api_when_the_file_vanishes(tmp_path):
    container = FileContainer(tmp_path / "gone.log")
    container.write("stdout", "from api")
    container.end()
    (tmp_path / "gone.log").unlink()
    assert texts(collect_logs(container, LogCursor(), 10, False)) == ["stdout: from api"]


def test_an_unreachable_engine_yields_the_warning_only():
    container = FileContainer(None, api_fails=True)
    assert texts(collect_logs(container, LogCursor(), 10, True)) == [f"stderr: {DEVELOPER_ERROR_WARNING}"]


def test_rfc3339_nano_time_is_parsed_to_nanoseconds():
    assert LogEntry("1970-01-01T00:00:01.5Z", "stdout", "").time_ns == 1_500_000_000
    assert LogEntry("1970-01-01T00:00:02Z", "stdout", "").time_ns == 2_000_000_000
    assert LogEntry("not a time", "stdout", "").time_ns == 0


def rotate(container: FileContainer) -> None:
    """What the engine does at ``max-size`` with ``max-file`` 2: the file becomes ``.1``, a new one starts."""
    assert container.path is not None
    container.path.rename(str(container.path) + ".1")
    container.path.touch()


def test_reading_goes_on_across_a_rotation_of_the_log_file(container):
    cursor = LogCursor()
    container.write("stdout", "earlier")
    container.end()
    assert texts(collect_logs(container, cursor, 10, False)) == ["stdout: earlier"]
    container.write("stdout", "before the rotation")
    rotate(container)
    container.write("stdout", "after the rotation")
    container.end()
    assert texts(collect_logs(container, cursor, 10, False)) == ["stdout: before the rotation",
                                                                 "stdout: after the rotation"]
    container.write("stdout", "next")
    container.end()
    assert texts(collect_logs(container, cursor, 10, False)) == ["stdout: next"]


def test_lines_lost_to_two_rotations_are_noted_as_a_truncation(container):
    cursor = LogCursor()
    container.write("stdout", "x" * 100)
    container.end()
    collect_logs(container, cursor, 10, False)
    rotate(container)
    rotate(container)  # the older file is now shorter than where the last collection stopped
    container.write("stdout", "survivor")
    container.end()
    assert texts(collect_logs(container, cursor, 10, False)) == ["stdout: survivor",
                                                                 f"stderr: {truncation_message(10 * 1024 * 1024)}"]


def test_a_flood_is_read_in_bounded_chunks(container, monkeypatch):
    import workers.logs

    reads: list[int] = []
    real_open = open

    class CountingFile:
        def __init__(self, file):
            self.file = file

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def seek(self, offset):
            self.file.seek(offset)

        def read(self, size=-1):
            reads.append(size)
            return self.file.read(size)

    monkeypatch.setattr(workers.logs, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(workers.logs, "open", lambda path, mode: CountingFile(real_open(path, mode)), raising=False)
    for i in range(2000):
        container.write("stdout", f"line {i} " + "y" * 50)
    container.end()
    lines = collect_logs(container, LogCursor(), 1, False)
    assert len(lines) == 2000 and texts(lines)[-1].startswith("stdout: line 1999 ")
    assert reads and all(0 < size <= 4096 for size in reads)


# --- lines sent with the /run answer (runtimes/python/actionproxy/capture.py) ------------------------------------


def inline(*lines: tuple[str, str], truncated: bool = False, complete: bool = True) -> InlineLogs:
    return InlineLogs([LogEntry(f"2024-05-01T13:00:0{n}.000000001Z", stream, text)
                       for n, (stream, text) in enumerate(lines)], truncated, complete)


def test_lines_sent_with_the_answer_are_taken_without_reading_the_file(container):
    container.write("stdout", "in the file too")
    container.end()
    cursor = LogCursor()
    lines = collect_logs(container, cursor, 10, developer_error=False,
                         inline=inline(("stdout", "hello"), ("stderr", "oops")))
    assert lines == [format_line("2024-05-01T13:00:00.000000001Z", "stdout", "hello"),
                     format_line("2024-05-01T13:00:01.000000001Z", "stderr", "oops")]
    assert (cursor.offset, cursor.inline) == (0, True)
    assert cursor.since_ns == LogEntry("2024-05-01T13:00:01.000000001Z", "stderr", "").time_ns


def test_the_limit_holds_for_lines_sent_with_the_answer(container):
    cursor = LogCursor()
    text = "x" * (600 * 1024)
    lines = collect_logs(container, cursor, 1, developer_error=False,
                         inline=inline(("stdout", text), ("stdout", text), ("stdout", "after")))
    assert texts(lines) == ["stdout: " + text, "stderr: " + truncation_message(1024 * 1024)]


def test_a_truncation_by_the_proxy_is_noted_once(container):
    lines = collect_logs(container, LogCursor(), 1, developer_error=False,
                         inline=inline(("stdout", "kept"), truncated=True))
    assert texts(lines) == ["stdout: kept", "stderr: " + truncation_message(1024 * 1024)]


def test_lines_sent_incomplete_end_with_the_warning(container):
    lines = collect_logs(container, LogCursor(), 10, developer_error=False,
                         inline=inline(("stdout", "some"), complete=False))
    assert texts(lines) == ["stdout: some", "stderr: " + COLLECTION_WARNING]


def test_the_log_limit_zero_keeps_no_line_sent_with_the_answer(container):
    assert collect_logs(container, LogCursor(), 0, developer_error=False, inline=inline(("stdout", "x"))) == []


@pytest.mark.parametrize("raw", [
    b"", b"[]", b"{}", b'{"chunks": 3, "truncated": false, "complete": true}',
    b'{"chunks": [["t", "stdout"]], "truncated": false, "complete": true}', b"\xff"])
def test_lines_that_are_not_the_proxys_shape_are_not_believed(raw):
    assert parse_inline(raw) is None


def test_a_chunk_is_the_lines_of_one_read():
    parsed = parse_inline(json.dumps({"chunks": [["2024-05-01T13:00:00.5Z", "stdout", "one\r\ntwo\n\nfour"],
                                                 ["2024-05-01T13:00:00.6Z", "stderr", ""]],
                                      "truncated": False, "complete": True}).encode())
    assert parsed is not None
    assert [(e.time, e.stream, e.text) for e in parsed.lines] == [
        ("2024-05-01T13:00:00.5Z", "stdout", "one"), ("2024-05-01T13:00:00.5Z", "stdout", "two"),
        ("2024-05-01T13:00:00.5Z", "stdout", ""), ("2024-05-01T13:00:00.5Z", "stdout", "four"),
        ("2024-05-01T13:00:00.6Z", "stderr", "")]


def test_a_hostile_proxy_cannot_choose_the_stream_or_the_time_format():
    parsed = parse_inline(json.dumps({"chunks": [["yesterday", "admin", "text"], ["2024-05-01T13:00:00.5Z", "stderr",
                                                                               "ok"], ["t", "stdout", 7]],
                                      "truncated": "yes", "complete": True}).encode())
    assert parsed is not None
    first, second = parsed.lines
    assert (first.stream, first.text, second.time, second.stream) == ("stdout", "text", "2024-05-01T13:00:00.5Z",
                                                                      "stderr")
    assert first.time_ns > 0  # now, in the engine's format
    assert parsed.truncated is False  # only true is true


def test_after_answers_with_lines_a_run_without_one_takes_the_lines_after_the_last_sentinels(container, monkeypatch):
    monkeypatch.setattr("workers.logs.DEVELOPER_ERROR_WAIT_S", 0.01)
    cursor = LogCursor()
    container.write("stdout", "first run")
    container.end()
    collect_logs(container, cursor, 10, developer_error=False, inline=inline(("stdout", "first run")))
    container.write("stderr", "second run")
    container.end()
    collect_logs(container, cursor, 10, developer_error=False, inline=inline(("stderr", "second run")))
    container.write("stdout", "timed out, printed")
    container.write("stderr", "and this")
    lines = collect_logs(container, cursor, 10, developer_error=True)
    assert texts(lines) == ["stdout: timed out, printed", "stderr: and this", "stderr: " + DEVELOPER_ERROR_WARNING]


def test_a_run_without_an_answer_whose_start_was_not_read_is_noted_as_truncated(container, monkeypatch):
    monkeypatch.setattr("workers.logs.DEVELOPER_ERROR_WAIT_S", 0.01)
    monkeypatch.setattr("workers.logs.TAIL_SLACK_BYTES", 100)
    cursor = LogCursor()
    container.end()
    collect_logs(container, cursor, 1, developer_error=False, inline=inline())
    for n in range(3000):  # about 3 MB of the engine's JSON: more than the tail read holds
        container.write("stdout", f"line {n} " + "y" * 1000)
    lines = collect_logs(container, cursor, 1, developer_error=True)
    assert texts(lines)[-2:] == ["stderr: " + truncation_message(1024 * 1024), "stderr: " + DEVELOPER_ERROR_WARNING]
    assert "line 0 " not in "".join(lines)


def test_after_answers_with_lines_the_engine_api_serves_a_run_without_one(monkeypatch):
    monkeypatch.setattr("workers.logs.DEVELOPER_ERROR_WAIT_S", 0.01)
    container = FileContainer(None)
    cursor = LogCursor()
    answered = container.write("stdout", "answered")  # the proxy's time; the engine's copy is no earlier
    container.end()
    collect_logs(container, cursor, 10, developer_error=False, inline=InlineLogs([answered], False, True))
    container.write("stdout", "no answer")
    lines = collect_logs(container, cursor, 10, developer_error=True)
    assert texts(lines) == ["stdout: no answer", "stderr: " + DEVELOPER_ERROR_WARNING]
