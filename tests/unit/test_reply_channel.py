"""Where an invoker publishes a result: only a reply channel of ours, whatever the message says."""

from __future__ import annotations

import pytest

from tasks.results import REPLY_CHANNEL_PREFIX, reply_channel

pytestmark = pytest.mark.unit

KEY = "celery-task-meta-0123"
OURS = f"{REPLY_CHANNEL_PREFIX}{'a' * 32}"


@pytest.mark.parametrize(("message", "expected"), [
    ({"reply_to": OURS, "blocking": True}, OURS),
    ({"reply_to": None, "blocking": True}, KEY),  # a per-request wait on the key (compositions)
    ({"blocking": False}, None),  # nobody waits: the result is only kept
    ({"reply_to": "squall:journal:x", "blocking": True}, KEY),  # not one of ours: never published there
    ({"reply_to": "other-app-channel", "blocking": False}, None),
    ({"reply_to": OURS + "x" * 200, "blocking": True}, KEY),  # absurdly long
    ({"reply_to": ["list"], "blocking": True}, KEY),
    ({"reply_to": OURS, "blocking": "yes"}, OURS),
    ({"blocking": "true"}, None),  # only a real boolean counts
])
def test_only_our_reply_channels_or_the_key(message: dict[str, object], expected: str | None) -> None:
    assert reply_channel(message, KEY) == expected
