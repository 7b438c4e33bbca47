"""Every process's log lines: the two formats, the structured fields, the transaction id on each line written for a
request or an activation, and the invoker's and the scheduler's lines."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import httpx
import pytest

from app.core.alarms import parse_alarm
from app.core.entities import Activation, ActivationMessage, Status
from app.core.names import EntityPath
from app.core.services.alarms import AlarmService
from app.log_format import TID, configure_logging, current_tid, formatter, transaction
from app.scheduler.firer import AlarmFirer
from config import SettingsError, load_settings
from tests.fakes import DictAlarmStore, DictEntityStore
from workers.activation_log import log_activation

pytestmark = pytest.mark.unit

ISO_UTC_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
SECRET = "s3cret-parameter-value"


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """``configure_logging`` into a buffer, the root logger's handlers and level put back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buffer = io.StringIO()
    yield buffer
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


def written(buffer: io.StringIO) -> list[str]:
    return buffer.getvalue().splitlines()


def test_a_json_line_is_one_object_with_the_fields_and_the_structured_ones(lines: io.StringIO) -> None:
    configure_logging("json", stream=lines)
    logging.getLogger("app.somewhere").info("hello %s", "world", extra={"status": 202, "path": "/api/v1 x"})
    [line] = written(lines)
    obj = json.loads(line)
    assert list(obj)[:4] == ["ts", "level", "logger", "message"]
    assert ISO_UTC_MS.fullmatch(obj["ts"])
    assert (obj["level"], obj["logger"], obj["message"]) == ("INFO", "app.somewhere", "hello world")
    assert (obj["status"], obj["path"]) == (202, "/api/v1 x")
    assert TID not in obj  # written outside any transaction


def test_other_libraries_records_and_tracebacks_are_json_too(lines: io.StringIO) -> None:
    configure_logging("json", stream=lines)
    logging.getLogger("celery.worker.consumer").warning("broker lost: %r", ConnectionError("x"))
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logging.getLogger("kombu").exception("failed")
    first, second = (json.loads(line) for line in written(lines))  # a traceback stays inside its one line
    assert first["logger"] == "celery.worker.consumer" and first["level"] == "WARNING"
    assert second["message"] == "failed" and "ValueError: bad\nvalue" in second["exc_info"]


def test_a_text_line_puts_the_fields_after_the_message_and_a_traceback_last(lines: io.StringIO) -> None:
    configure_logging("text", stream=lines)
    log = logging.getLogger("app.x")
    log.info("plain")
    with transaction("tid-1"):
        try:
            raise KeyError("k")
        except KeyError:
            log.exception("went wrong", extra={"status": 500, "action": "guest/a b"})
    plain, failed, *traceback = written(lines)
    assert re.fullmatch(ISO_UTC_MS.pattern + r" INFO app\.x: plain", plain)
    assert failed.endswith(' ERROR app.x: went wrong status=500 action="guest/a b" tid=tid-1')
    assert traceback[0] == "Traceback (most recent call last):" and traceback[-1] == "KeyError: 'k'"


def test_a_text_line_cannot_be_split_by_what_a_client_sent(lines: io.StringIO) -> None:
    configure_logging("text", stream=lines)
    forged = "/api/v1/x\n2026-12-07T00:00:00.000Z INFO app.forged: admin logged in\r\x1b[2J"
    logging.getLogger("app.x").info("GET %s 404", forged, extra={"path": forged})
    [line] = written(lines)
    assert "\\n2026-12-07T00:00:00.000Z INFO app.forged" in line and "\\x1b[2J" in line
    assert line.endswith('path="/api/v1/x\\n2026-12-07T00:00:00.000Z INFO app.forged: admin logged in\\r\\u001b[2J"')


def test_lines_inside_a_transaction_carry_its_id_and_only_those(lines: io.StringIO) -> None:
    configure_logging("json", stream=lines)
    log = logging.getLogger("app.x")
    with transaction("outer"):
        log.info("a")
        with transaction("inner"):
            log.info("b")
        log.info("c", extra={TID: "given"})  # a line that names its own transaction keeps it
        assert current_tid() == "outer"
    log.info("d")
    with transaction(""):  # no id: nothing added
        log.info("e")
    assert [json.loads(line).get(TID) for line in written(lines)] == ["outer", "inner", "given", None, None]
    assert current_tid() is None


def test_an_unknown_format_is_refused_by_the_settings_and_the_formatter() -> None:
    assert load_settings(environ={"SQUALL_LOG_FORMAT": "json"}).log.format == "json"
    assert load_settings(environ={}).log.format == "text"
    with pytest.raises(SettingsError, match="log.format"):
        load_settings(environ={"SQUALL_LOG_FORMAT": "xml"})
    with pytest.raises(ValueError, match="xml"):
        formatter("xml")


def test_configuring_replaces_the_handlers_before(lines: io.StringIO) -> None:
    logging.getLogger().addHandler(logging.StreamHandler(io.StringIO()))
    handler = configure_logging("text", "WARNING", stream=lines)
    assert logging.getLogger().handlers == [handler] and logging.getLogger().level == logging.WARNING


# --- the invoker's line -------------------------------------------------------------------------------------


def message(tid: str = "tid-of-the-request") -> ActivationMessage:
    return ActivationMessage(activation_id="a" * 32, transaction_id=tid, namespace="guest", subject="guest",
                             action="guest/pkg/hello", revision="1-x", content={"password": SECRET},
                             blocking=True, received_ms=1, api_key="uuid:" + SECRET, cause="c" * 32)


def record(status: Status = Status.SUCCESS, init_ms: int | None = 40) -> Activation:
    annotations = [{"key": "path", "value": "guest/pkg/hello"}, {"key": "waitTime", "value": 7},
                   {"key": "kind", "value": "python:3"}, {"key": "timeout", "value": False}]
    if init_ms is not None:
        annotations.append({"key": "initTime", "value": init_ms})
    return Activation.ended(namespace="guest", name="hello", version="0.0.1", subject="guest",
                            activation_id="a" * 32, start=100, end=160, status=status,
                            result={"token": SECRET}, logs=[f"2026 stdout: {SECRET}"], annotations=annotations,
                            cause="c" * 32)


def test_the_activation_line_has_its_fields_and_none_of_the_tenants_data(lines: io.StringIO) -> None:
    configure_logging("json", stream=lines)
    log_activation(message(), record(), "prewarm")
    [line] = written(lines)
    assert SECRET not in line  # parameters, key, result and logs stay in the record
    obj = json.loads(line)
    assert obj["message"] == f"activation {'a' * 32} guest/pkg/hello success 60 ms (prewarm)"
    assert {k: obj[k] for k in ("tid", "activation_id", "namespace", "action", "kind", "status", "duration_ms",
                                "wait_ms", "init_ms", "start", "cause")} == {
        "tid": "tid-of-the-request", "activation_id": "a" * 32, "namespace": "guest", "action": "guest/pkg/hello",
        "kind": "python:3", "status": "success", "duration_ms": 60, "wait_ms": 7, "init_ms": 40,
        "start": "prewarm", "cause": "c" * 32}


def test_a_warm_run_or_one_without_a_container_leaves_those_fields_out(lines: io.StringIO) -> None:
    configure_logging("text", stream=lines)
    log_activation(message(), record(Status.WHISK_ERROR, init_ms=None), None)
    [line] = written(lines)
    assert "whisk internal error" in line and "tid=tid-of-the-request" in line
    assert "init_ms" not in line and "start=" not in line


def test_no_activation_line_below_info(lines: io.StringIO) -> None:
    configure_logging("json", "WARNING", stream=lines)
    log_activation(message(), record(), "warm")
    assert written(lines) == []


# --- the scheduler's fires ------------------------------------------------------------------------------------


def test_a_fire_sends_its_own_transaction_id_and_logs_it_with_the_activation(lines: io.StringIO) -> None:
    store = DictAlarmStore()
    store.put_alarm(parse_alarm("alarm", EntityPath("guest", "t"), "uuid:key", {"cron": "* * * * *"}, 0).to_doc())
    seen: list[httpx.Request] = []

    def controller(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"activationId": "f" * 32})

    firer = AlarmFirer("http://controller", AlarmService(DictEntityStore(), store, clock=lambda: 0),
                       transport=httpx.MockTransport(controller))
    configure_logging("json", stream=lines)
    firer.fire("guest/t", "uuid:key", {"p": SECRET}, 60_000)
    firer.fire("guest/t", "uuid:key", {}, 120_000)
    every = [json.loads(line) for line in written(lines)]
    first, second = (obj for obj in every if obj["logger"] == "app.scheduler.firer")
    assert first["tid"] == seen[0].headers["X-Request-ID"] != second["tid"] == seen[1].headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first["tid"])  # as the controller takes a caller's id (context.py)
    assert (first["trigger"], first["due"], first["status"], first["activation_id"]) == \
        ("guest/t", 60_000, 202, "f" * 32)
    assert SECRET not in lines.getvalue()


def test_a_librarys_warning_is_a_line_too(lines: io.StringIO) -> None:
    import warnings

    configure_logging("json", stream=lines)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("a deprecated setting", DeprecationWarning, stacklevel=1)
    [line] = written(lines)
    obj = json.loads(line)
    assert obj["logger"] == "py.warnings" and "a deprecated setting" in obj["message"]


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_celerys_task_context_with_the_arguments_is_never_written(lines: io.StringIO, log_format: str) -> None:
    # As celery.app.trace logs a failed task (at ERROR, so also at INFO): the context, with the task's arguments
    # (the activation message: parameters and key), rides along as ``extra={"data": ...}``.
    configure_logging(log_format, stream=lines)
    context = {"id": "a" * 32, "name": "squall.invoke", "exc": "boom", "args": "()",
               "kwargs": str(message().to_dict())}
    logging.getLogger("celery.app.trace").error("Task %(name)s[%(id)s] raised unexpected: %(exc)s", context,
                                                extra={"data": context})
    [line] = written(lines)
    assert "raised unexpected: boom" in line and SECRET not in line
