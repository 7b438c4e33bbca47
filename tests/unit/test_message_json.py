"""``tasks.message_json``: message bodies read as the JSON they hold, whatever kombu would have made of them."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from kombu.serialization import dumps, loads

from tasks.message_json import read_as_plain_json

TYPED_LOOKING = {"b": {"__type__": "bytes", "__value__": "aGk="},
                 "u": [{"__type__": "uuid", "__value__": "not-a-uuid"}],
                 "x": {"__type__": "no-such-type", "__value__": 1},
                 "n": 123456789012345678901234567890}


@pytest.fixture(autouse=True)
def plain() -> None:
    read_as_plain_json()
    read_as_plain_json()  # twice changes nothing


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview, lambda b: b.decode()])
def test_typed_looking_objects_come_back_as_they_were_sent(wrap: Callable[[bytes], Any]) -> None:
    content_type, encoding, body = dumps(TYPED_LOOKING, serializer="json")
    assert content_type == "application/json" and encoding == "utf-8"
    raw = body if isinstance(body, bytes) else body.encode()
    assert loads(wrap(raw), content_type, encoding, accept={"application/json"}) == TYPED_LOOKING


def test_what_celery_itself_may_send_still_encodes() -> None:
    """Celery's own messages (replies to ``inspect``, say) may hold a datetime: written as kombu writes it."""
    _, _, body = dumps({"at": datetime.datetime(2026, 1, 2, 3, 4, 5)}, serializer="json")
    assert loads(body, "application/json", "utf-8") == {"at": {"__type__": "datetime",
                                                              "__value__": "2026-01-02T03:04:05"}}
