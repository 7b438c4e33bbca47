"""How every Squall process writes its log lines: ``text`` for a terminal, ``json`` (one object a line) for a log
pipeline, and the transaction id on each line written while a request or an activation is handled.

``configure_logging`` is called once, by each process's composition root, before it logs anything; the records of
every library (Celery, kombu, gunicorn's error log, httpx) then go through the one handler it installs. Structured
fields travel as ``extra`` on a record (``log.info("...", extra={"status": 200})``): the JSON formatter writes
them as keys of the object, the text formatter appends them as ``key=value``. The transaction id comes from the
``transaction`` context (a ``ContextVar``, so each request's thread and each activation's thread has its own).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

__all__ = ["LOG_FORMATS", "TID", "configure_logging", "current_tid", "fields", "formatter", "reset_transaction",
           "set_transaction", "transaction"]

LOG_FORMATS = ("text", "json")

TID = "tid"
"""The field naming the transaction id on every line written for a request or an activation."""

_tid: ContextVar[str | None] = ContextVar("squall_tid", default=None)
# Attributes every LogRecord has: anything else on a record is a structured field (an ``extra``), but for Celery's
# ``data`` (its task lines' context, which holds the task's arguments: an activation's parameters and key).
_STANDARD = frozenset(RESERVED_ATTRS) | {"taskName", "message", "asctime", "data"}


def current_tid() -> str | None:
    """The transaction id of the request or activation this thread handles now, if any."""
    return _tid.get()


@contextmanager
def transaction(tid: str | None) -> Iterator[None]:
    """Lines written inside carry ``tid`` (none when it is empty or None)."""
    token = _tid.set(tid or None)
    try:
        yield
    finally:
        _tid.reset(token)


def set_transaction(tid: str | None) -> object:
    """As ``transaction``, for a caller whose start and end are two hooks (a request's before and teardown):
    returns the token to pass to ``reset_transaction``."""
    return _tid.set(tid or None)


def reset_transaction(token: object) -> None:
    _tid.reset(token)  # type: ignore[arg-type]  # the token set_transaction returned


class _TidFilter(logging.Filter):
    """Puts the current transaction id on each record that has none of its own (a handler filter: records of
    every logger pass it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if TID not in record.__dict__:
            tid = _tid.get()
            if tid is not None:
                record.tid = tid
        return True


def _utc(formatter: logging.Formatter) -> None:
    """ISO 8601 UTC times with milliseconds, as both formatters write them (``2026-12-07T02:10:05.123Z``)."""
    formatter.converter = time.gmtime
    formatter.default_time_format = "%Y-%m-%dT%H:%M:%S"
    formatter.default_msec_format = "%s.%03dZ"


class TextFormatter(logging.Formatter):
    """``ts LEVEL logger: message key=value ...``: the structured fields after the message, so that
    ``grep tid=<id>`` finds every line of a transaction."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        _utc(self)

    def formatMessage(self, record: logging.LogRecord) -> str:
        # A message may quote what a client sent (a request path with %0A in it): one line stays one line, so
        # nobody can forge a line of their own into the log.
        record.message = _one_line(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = [f"{key}={_text(value)}" for key, value in record.__dict__.items()
                  if key not in _STANDARD and not key.startswith("_")]
        if not fields:
            return line
        # A traceback (exc_text) stays last, where it reads as one.
        head, newline, rest = line.partition("\n")
        return f"{head} {' '.join(fields)}{newline}{rest}"


def _text(value: object) -> str:
    text = str(value)
    plain = text and text.isprintable() and " " not in text and '"' not in text
    return text if plain else json.dumps(text, ensure_ascii=False)  # JSON's escapes: a newline stays \n


def _one_line(text: str) -> str:
    """``text`` with its line breaks and other control characters written as escapes (``\n``, ``\x1b``)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class JsonLineFormatter(JsonFormatter):
    """One JSON object a line: ``ts``, ``level``, ``logger``, ``message``, then the structured fields
    (python-json-logger writes every non-standard attribute of the record, and a traceback as ``exc_info``)."""

    def __init__(self) -> None:
        super().__init__("{asctime}{levelname}{name}{message}", style="{",
                         rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
                         reserved_attrs=sorted(_STANDARD), json_ensure_ascii=False)
        _utc(self)


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonLineFormatter()
    if log_format == "text":
        return TextFormatter()
    raise ValueError(f"log format {log_format!r} is not one of {', '.join(LOG_FORMATS)}")


def configure_logging(log_format: str, level: str | int = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Send every record at ``level`` and above to one stream handler (stderr by default) in ``log_format``;
    handlers installed before (``basicConfig``, a library's) are removed. Returns the handler."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(_TidFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    logging.captureWarnings(True)  # a library's warning is a record too, not two lines of text on stderr
    return handler


def fields(**values: Any) -> dict[str, Any]:
    """``extra`` for a structured line, leaving out fields that are not known (None)."""
    return {key: value for key, value in values.items() if value is not None}
