"""Activation records written in batches (group commit), off the reply path, without losing one.

Why: one CouchDB PUT per activation costs the invoker a round trip each and CouchDB one request each;
under load most of an invoker thread's time went there (py-spy, README "Benchmarks"). Here the threads
hand their records to one writer thread, which sends whatever has queued up as one ``_bulk_docs`` while the
next batch gathers, lingering a few ms for more once it has one (``LINGER_S``): each request costs the
invoker the same CPU however many records it carries.

The guarantee is kept: ``store`` returns only once the record is stored (or was stored before: a
redelivery), so the invoke task, and with it the broker message (late ack), finishes after the record
landed. While the store is down, a record is retried a few times, then ``RecordNotStored`` hands it to that
task, which passes it to the broker as a ``store_record`` task (``tasks.invoke``).

A record the store refuses (it is the record, not the store: CouchDB answers ``invalid_json`` to one whose
result holds NaN) must not hold up the others in its batch: the store isolates it (``put_activations`` answers
per record), it is retried alone a few times, then an error record with its id stands in for it
(``stand_in``) and ``RecordRefused`` tells the caller, which counts it as a dead letter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from app.core import strict_json
from app.core.entities import Document, Status
from app.core.errors import StoreError
from app.core.ports import ActivationStore

log = logging.getLogger(__name__)


class RecordNotStored(StoreError):
    """The store stayed down through the retries; ``doc`` is the record still to be stored."""

    def __init__(self, doc: Document) -> None:
        super().__init__(f"activation record {doc['_id']} could not be stored")
        self.doc = doc


class RecordRefused(StoreError):
    """The store refused ``doc`` itself, for ``reason``: an error record with its id was stored in its place. The
    activation ran and its caller was answered; only its record is lost (a dead letter, to be counted)."""

    def __init__(self, doc: Document, reason: str) -> None:
        super().__init__(f"activation record {doc.get('_id')} refused by the store: {reason}")
        self.doc = doc
        self.reason = reason


REFUSED = ("The record of this activation was refused by the store; this error record stands in for it. "
           "The invoker's log has the reason.")
"""The stand-in's error: the store's reason is for the operator (it names the store), not for the namespace."""
_STAND_IN_FIELDS = ("_id", "entityType", "namespace", "name", "version", "subject", "activationId", "start", "end",
                    "duration", "cause")


def stand_in(doc: Document) -> Document:
    """The error record stored in place of ``doc``, which the store refused: its id, names and times, a whisk
    internal error as its result, and nothing else of it (what the store refused may be anywhere in it)."""
    record: Document = {"publish": False, "logs": [], "annotations": []}
    for name in _STAND_IN_FIELDS:
        value = doc.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and _strict(value):
            record[name] = value
    path = next((a.get("value") for a in doc.get("annotations") or () if isinstance(a, dict)
                 and a.get("key") == "path"), None)
    if isinstance(path, str) and _strict(path):  # what the activation list filters on by package
        record["annotations"] = [{"key": "path", "value": path}]
    # What every reader of a record needs, should the refused one lack it (or hold it unusable).
    namespace, _, activation_id = str(record.get("_id", "")).rpartition("/")
    for name, fallback in (("namespace", namespace), ("name", "unknown"), ("activationId", activation_id),
                           ("start", 0)):
        record.setdefault(name, fallback)
    record["response"] = {"statusCode": int(Status.WHISK_ERROR), "result": {"error": REFUSED}}
    return record


def _strict(value: str | int) -> bool:
    try:
        strict_json.check(value)
    except strict_json.NotStrictJson:
        return False
    return True


class RecordSink(Protocol):
    """Where the invoker hands a finished activation's record."""

    def store(self, doc: Document) -> None:
        """Return once ``doc`` is stored (or was before: a redelivery). Raises ``RecordNotStored`` when the store
        stays down, ``RecordRefused`` when it refused ``doc`` and an error record stands in for it."""

    def close(self) -> None: ...

RETRY_PAUSES_S = (0.1, 0.5, 2.0)
"""Pauses before the retries of a record (the same as the invoker's single-record path)."""
MAX_BATCH = 256
"""Most records in one ``_bulk_docs``."""
LINGER_S = 0.005
"""How long a batch waits for more records once it has one. Measured under load (interleaved runs, README
"Benchmarks"): 5 ms cut the invoker's CPU per activation by ≈ 8 % and raised its rate by ≈ 13 % against 0.
The wait is after the reply and after the container went back to the pool; only the task's ack waits."""


class BulkActivationStore(Protocol):
    def put_activations(self, docs: list[Document]) -> list[str | None]:
        """Store several records; per doc, None when it is stored (now or before), else why the store refused
        it (the others are stored all the same). Raises ``StoreError`` when the store cannot be asked at all."""


@dataclass(eq=False)
class _Pending:
    doc: Document
    attempt: int = 0
    due: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    refused: tuple[Document, str] | None = None  # once ``doc`` is a stand-in: the refused record and why


class RecordWriter:
    """One writer thread per invoker process; ``store`` may be called from any number of threads."""

    def __init__(self, store: BulkActivationStore, *, max_batch: int = MAX_BATCH,
                 retry_pauses_s: tuple[float, ...] = RETRY_PAUSES_S, linger_s: float | None = None) -> None:
        self._store = store
        self._max_batch = max_batch
        self._linger_s = LINGER_S if linger_s is None else linger_s
        self._pauses = retry_pauses_s
        self._cond = threading.Condition()
        self._queue: deque[_Pending] = deque()
        self._retrying: list[_Pending] = []
        self._writing = 0  # records in the request being sent now
        self._errors = {"unavailable": 0, "refused": 0}  # records the store did not take at an attempt
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="squall-records", daemon=True)
        self._thread.start()

    def store(self, doc: Document) -> None:
        """Block until ``doc`` is stored. Raises ``RecordNotStored`` after the retries, or once closed."""
        pending = _Pending(doc)
        with self._cond:
            if self._closed:
                raise RecordNotStored(doc)
            self._queue.append(pending)
            self._cond.notify()
        pending.done.wait()
        if pending.error is not None:
            raise pending.error

    def pending(self) -> int:
        """Records handed in and not stored yet: queued, being written, or waiting for a retry (for metrics)."""
        with self._cond:
            return len(self._queue) + self._writing + len(self._retrying)

    def errors(self) -> dict[str, int]:
        """Records the store did not take at an attempt since start, by why: ``unavailable`` (the store could
        not be asked) or ``refused`` (it refused the record) (for metrics)."""
        with self._cond:
            return dict(self._errors)

    def close(self) -> None:
        """Write what is queued (retries are not waited for: those fail to their callers), then stop."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()

    # --- the writer thread ------------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self._write(batch)
            except Exception as e:  # a bug of ours must not strand the waiting threads
                log.exception("writing %d activation records failed", len(batch))
                for pending in batch:
                    self._fail(pending, e)
            finally:
                with self._cond:
                    self._writing = 0

    def _next_batch(self) -> list[_Pending] | None:
        with self._cond:
            while True:
                now = time.monotonic()
                due = [p for p in self._retrying if p.due <= now]
                if due:
                    self._retrying = [p for p in self._retrying if p.due > now]
                batch = due[: self._max_batch]
                self._retrying.extend(due[self._max_batch:])
                while self._queue and len(batch) < self._max_batch:
                    batch.append(self._queue.popleft())
                if batch:
                    self._linger(batch)
                    self._writing = len(batch)
                    return batch
                if self._closed:
                    for pending in self._retrying:
                        self._fail(pending, None)
                    self._retrying.clear()
                    return None
                wait = min((p.due for p in self._retrying), default=now + 60.0) - now
                self._cond.wait(max(wait, 0.0))

    def _linger(self, batch: list[_Pending]) -> None:
        """Under the lock: gather more records for up to ``linger_s`` (fewer, larger requests)."""
        deadline = time.monotonic() + self._linger_s
        while len(batch) < self._max_batch and not self._closed:
            while self._queue and len(batch) < self._max_batch:
                batch.append(self._queue.popleft())
            remaining = deadline - time.monotonic()
            if remaining <= 0 or len(batch) >= self._max_batch:
                return
            self._cond.wait(remaining)

    def _write(self, batch: list[_Pending]) -> None:
        try:
            outcomes: list[str | None] = self._store.put_activations([p.doc for p in batch])
        except StoreError as e:
            log.warning("storing %d activation records failed: %s", len(batch), e)
            with self._cond:
                self._errors["unavailable"] += len(batch)
            for pending in batch:
                self._retry_or_fail(pending, str(e), refused=False)
            return
        for pending, problem in zip(batch, outcomes, strict=True):
            if problem is None:
                if pending.refused is not None:
                    pending.error = RecordRefused(*pending.refused)
                pending.done.set()
            else:
                with self._cond:
                    self._errors["refused"] += 1
                self._retry_or_fail(pending, problem, refused=True)

    def _retry_or_fail(self, pending: _Pending, problem: str, *, refused: bool) -> None:
        """Retry a record a few times; then one the store stays down for goes back to its caller, one it refused
        is replaced by an error record. A refused stand-in goes back at once: then the store is at fault."""
        stand_in_refused = refused and pending.refused is not None
        if stand_in_refused or (not refused and pending.attempt >= len(self._pauses)):
            log.error("activation record %s not stored: %s", pending.doc.get("_id"), problem)
            self._fail(pending, None)
        elif pending.attempt < len(self._pauses):
            pending.attempt += 1
            self._retry(pending, self._pauses[pending.attempt - 1])
        else:
            log.error("activation record %s refused by the store (%s); an error record takes its place",
                      pending.doc.get("_id"), problem)
            pending.refused = (pending.doc, problem)
            pending.doc = stand_in(pending.doc)
            pending.attempt = 0
            self._retry(pending, 0.0)

    def _retry(self, pending: _Pending, pause: float) -> None:
        pending.due = time.monotonic() + pause
        with self._cond:
            self._writing = max(self._writing - 1, 0)  # from the request being sent to the retries
            self._retrying.append(pending)

    @staticmethod
    def _fail(pending: _Pending, cause: BaseException | None) -> None:
        # The record itself, not its stand-in: kept for later, it may be stored once the store is back.
        error = RecordNotStored(pending.refused[0] if pending.refused is not None else pending.doc)
        error.__cause__ = cause
        pending.error = error
        pending.done.set()


class DirectRecordWriter:
    """A ``RecordSink`` that stores each record with its own request, retrying a store that is briefly down
    (tests, and callers that store few records)."""

    def __init__(self, store: ActivationStore, pauses_s: tuple[float, ...] = RETRY_PAUSES_S) -> None:
        self._store = store
        self._pauses_s = pauses_s

    def store(self, doc: Document) -> None:
        for pause in (*self._pauses_s, None):
            try:
                self._store.put_activation(doc)
                return
            except StoreError as e:
                if pause is None:
                    raise RecordNotStored(doc) from e
                log.warning("storing activation %s failed; retrying in %.1f s", doc.get("_id"), pause)
                time.sleep(pause)  # backoff before the next attempt, not synchronisation

    def close(self) -> None:
        return None
