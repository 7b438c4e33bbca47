"""The invoker's one line per activation (``app.core.activity.log_line``: which activation, whose, which action, how
it ended and how long it took, how it got its container), with the transaction id of the request that caused it."""

from __future__ import annotations

import logging

from app.core.activity import log_line
from app.core.entities import Activation, ActivationMessage

log = logging.getLogger(__name__)


def log_activation(message: ActivationMessage, activation: Activation, start: str | None) -> None:
    """Write the line of ``activation``, run for ``message``; ``start`` is ``RunNotes.start``."""
    if log.isEnabledFor(logging.INFO):
        text, fields = log_line(activation, message.transaction_id, start)
        log.info("%s", text, extra=fields)
