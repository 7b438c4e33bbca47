"""How a Squall process reads the JSON of broker and result messages: as plain JSON, whatever the objects in it.

Why: kombu's JSON decoder turns every object with exactly the keys ``__type__`` and ``__value__`` into a Python
object of the type named (``bytes``, ``datetime``, ``uuid``, ``decimal``, ...) and fails on a type it does not know.
An activation's parameters and its result are the caller's and the action's JSON, so such an object reached the
action as bytes or a datetime, ended as "whisk internal error", or failed to decode and left the activation with no
record at all (``tests/integration/test_message_json.py``). Squall's messages carry JSON values only, so they are
read as the JSON says. Messages are still written by kombu's encoder and stay ``application/json`` on the wire, so
a process not yet upgraded reads them as before and theirs are read here.
"""

from __future__ import annotations

import json
from typing import Any

from kombu.serialization import registry
from kombu.utils.json import dumps

CONTENT_TYPE = "application/json"


def loads(data: Any) -> Any:
    """JSON text (``str`` or UTF-8 bytes, as kombu hands it over) to the values it holds, nothing converted."""
    if isinstance(data, memoryview | bytearray):
        data = bytes(data)
    return json.loads(data)


def read_as_plain_json() -> None:
    """Decode ``application/json`` message bodies with ``loads`` in this process (kombu keeps one registry per
    process). Called by ``tasks.celery_app.make_celery``; calling it again changes nothing."""
    registry.register("json", dumps, loads, content_type=CONTENT_TYPE,  # type: ignore[no-untyped-call]
                      content_encoding="utf-8")
