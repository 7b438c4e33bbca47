"""Strict JSON: what Squall accepts as JSON from a client or from an action, and nothing more.

Python's ``json`` module reads more than RFC 8259 allows, and every extra it lets in breaks a later step:
``NaN`` and ``Infinity`` (and numbers such as ``1e400`` that overflow to infinity) are answered back as invalid
JSON and refused by CouchDB; a lone surrogate (``"\\ud800"``) cannot be encoded as UTF-8, so SQLite and the
action proxy's request fail on it; a document nested thousands of levels deep raises ``RecursionError`` in
whichever recursive step meets it first. ``loads`` refuses all of these, once, where the text comes in, so
nothing past it (the store, the invoker, the action) ever holds them. Integers of more than 4,300 digits are
refused by Python itself (a ``ValueError``), which ``loads`` passes on as it is.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["MAX_DEPTH", "NotStrictJson", "check", "loads"]

MAX_DEPTH = 128
"""Most levels of arrays and objects in one document (serde_json's default limit). Deep enough for any
document a person writes, and far from the depth where a recursive encoder or validator gives up."""

_SURROGATE = re.compile("[\ud800-\udfff]")
# A \u escape of a surrogate in the text: the only way one can get into a decoded string (the bytes are decoded
# strictly first). Pairs are joined by the decoder; only where this matches is the decoded value searched.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class NotStrictJson(ValueError):
    """Text that Python's ``json`` reads but strict JSON does not allow, or that nests too deeply."""


def loads(data: str | bytes) -> Any:
    """The value of a strict JSON text. Raises ``ValueError``: ``json.JSONDecodeError`` when it is not JSON at
    all, ``UnicodeDecodeError`` when bytes are not UTF-8 (or UTF-16/32 with their marks, as ``json`` allows),
    ``NotStrictJson`` for what strict JSON refuses."""
    text = data.decode(json.detect_encoding(data)) if isinstance(data, bytes) else data
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise NotStrictJson(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    # Counting brackets is C-fast and bounds the depth from above: most documents need no walk at all.
    if text.count("[") + text.count("{") > MAX_DEPTH or _SURROGATE_ESCAPE.search(text):
        check(value)
    return value


def check(value: Any) -> None:
    """Raise ``NotStrictJson`` if ``value`` (decoded JSON: dicts, lists, strings, numbers, booleans, None) nests
    deeper than ``MAX_DEPTH``, holds a lone surrogate in a string or key, or a number that is not finite.

    Iterative, so that the check itself cannot run out of stack on what it is meant to refuse."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise NotStrictJson(f"JSON nested deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key, member in item.items():
                    _check_string(key)
                    pending.append((member, depth + 1))
            else:
                pending.extend((member, depth + 1) for member in item)
        elif isinstance(item, str):
            _check_string(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise NotStrictJson(f"{item} is not a JSON number")


def _check_string(text: str) -> None:
    if _SURROGATE.search(text):
        raise NotStrictJson("a string holds a lone surrogate (\\ud800-\\udfff), which is not Unicode text")


def _refuse_constant(name: str) -> Any:
    raise NotStrictJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise NotStrictJson(f"the number {text[:40]} is out of range")
    return number
