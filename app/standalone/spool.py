"""The standalone platform's durable queue: accepted activations and start claims as small files.

What RabbitMQ and the Redis start journal give the distributed stack, in a folder of the data directory:

* ``accepted/<id>.json``: the activation message, written before ``publish`` returns, removed once
  its record is stored. A message still there at start was accepted and not finished: it is run again.
* ``started/<id>``: created atomically (``O_EXCL``) when the invoker claims the activation, right before ``/run``
  (``StartJournal.claim``); once the action ran, it holds the activation's record until that is stored
  (``keep``). A replayed message that was claimed is not run again: its kept record is stored, or, when the
  process died while the action ran, the invoker records it as interrupted.
* ``records/<id>.json``: a finished activation's record the store would not take; stored at the next start.

Messages hold the caller's parameters and key: the folders are 0700 and the files 0600, this user's alone.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from app.core.entities import ActivationMessage, Document


class Spool:
    def __init__(self, directory: Path) -> None:
        self.accepted = directory / "accepted"
        self.started = directory / "started"
        self.records = directory / "records"
        for folder in (directory, self.accepted, self.started, self.records):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.chmod(0o700)  # made by an earlier version with the umask's mode
        for path in (*self.accepted.iterdir(), *self.started.iterdir(), *self.records.iterdir()):
            path.chmod(0o600)

    # --- accepted messages ----------------------------------------------------------------------------

    def accept(self, message: ActivationMessage) -> None:
        """Write the message whole (write, then rename): after this it survives a crash of the process."""
        _write_durably(self.accepted / f"{message.activation_id}.json", message.to_dict())

    def done(self, activation_id: str) -> None:
        """The activation's record is stored (or spooled): forget the message and its claim."""
        for path in (self.accepted / f"{activation_id}.json", self.started / activation_id):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def pending(self) -> list[ActivationMessage]:
        """Messages accepted by an earlier run and not finished, oldest first."""
        for partial in self.accepted.glob("*.partial"):  # a crash before the rename: never accepted
            partial.unlink()
        paths = sorted(self.accepted.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
        messages = []
        for path in paths:
            try:
                messages.append(ActivationMessage.from_dict(json.loads(path.read_text())))
            except (ValueError, KeyError, TypeError):  # not a message of ours: set aside, not lost
                path.rename(path.with_suffix(".unreadable"))
        return messages

    # --- start claims (the invoker's ``Journal``) ----------------------------------------------------

    def claim(self, activation_id: str) -> bool:
        """True the first time for an activation id, False ever after (until ``done``)."""
        try:
            fd = os.open(self.started / activation_id, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return False
        os.close(fd)
        return True

    def keep(self, activation_id: str, doc: Document) -> None:
        path = self.started / activation_id
        if path.exists():
            _write_durably(path, doc)

    def keep_later(self, activation_id: str, doc: Document) -> None:
        self.keep(activation_id, doc)  # a file on this host: nothing to save by waiting

    def kept(self, activation_id: str) -> Document | None:
        try:
            text = (self.started / activation_id).read_text()
        except FileNotFoundError:
            return None
        if not text:  # claimed, and the process stopped before the action ended
            return None
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None

    def forget(self, activation_id: str) -> None:
        """Nothing to do: ``done`` removes the claim and what it held once the record is stored."""
        return None

    def forget_later(self, activation_id: str) -> None:
        return None  # as ``forget``

    def forgotten(self) -> None:
        return None

    def close(self) -> None:
        return None

    # --- records the store refused ---------------------------------------------------------------------

    def keep_record(self, doc: Document) -> None:
        _write_durably(self.records / f"{doc['activationId']}.json", doc)

    def kept_records(self) -> list[tuple[Path, Document]]:
        return [(path, json.loads(path.read_text())) for path in sorted(self.records.glob("*.json"))]


def _write_durably(path: Path, data: Any) -> None:
    """Whole or not at all, and surviving a crash of this process. Not fsynced: that cost 2 ms per invoke
    here, on the reply path, and guards only against losing the machine itself (as the sqlite store's
    ``synchronous=NORMAL`` does)."""
    partial = path.with_suffix(".partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()  # O_CREAT keeps the mode of a file already there
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as file:
        json.dump(data, file, separators=(",", ":"))
    partial.replace(path)
