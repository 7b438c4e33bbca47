"""``InProcessDispatcher``: the ``Dispatcher`` port without a broker, for the standalone platform.

Like OpenWhisk's lean balancer, the controller hands each activation straight to an invoker in the same
process: a thread pool runs ``Invoker.invoke``, and a blocking caller waits on an event set when the result
is published. Why not Celery on an embedded transport: its filesystem and SQL transports lost tasks when a
worker was killed, and poll (DESIGN §7). Durability comes from the ``Spool`` instead: a message is on disk
before ``publish`` returns and leaves it only once its record is stored, so a crash loses nothing accepted;
start claims keep a replayed activation from running twice.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from app.core.entities import ActivationMessage
from app.core.errors import StoreError, Unavailable
from app.standalone.spool import Spool
from workers.invoker import Invoker, RecordNotStored

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    """Where a blocking caller waits for one activation's result."""

    done: threading.Event = field(default_factory=threading.Event)
    value: dict[str, Any] | None = None
    finished_at: float = 0.0


class InProcessDispatcher:
    """Implements ``app.core.ports.Dispatcher`` with a thread pool and an ``Invoker`` in this process.

    ``result_ttl_s`` bounds how long finished results stay for ``wait``/``peek`` (the record is in the store).
    """

    def __init__(self, invoker: Invoker, spool: Spool, threads: int, result_ttl_s: float) -> None:
        self._invoker = invoker
        self._spool = spool
        self._result_ttl_s = result_ttl_s
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="squall-invoke")
        self._slots: dict[str, _Slot] = {}
        self._futures: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._accepting = True
        self._last_purge = time.monotonic()

    def recover(self) -> int:
        """Store records and run messages an earlier run left in the spool; returns how many messages."""
        for path, doc in self._spool.kept_records():
            try:
                self._invoker.store_record(doc)
                path.unlink()
            except StoreError as e:
                log.warning("a kept record still cannot be stored: %s", e)
        pending = self._spool.pending()
        for message in pending:
            self._submit(message)
        return len(pending)

    # --- Dispatcher -----------------------------------------------------------------------------------

    def publish(self, message: ActivationMessage) -> None:
        if not self._accepting:
            raise Unavailable()
        try:
            self._spool.accept(message)
        except OSError as e:
            raise Unavailable() from e
        self._submit(message)

    def wait(self, activation_id: str, timeout_s: float) -> dict[str, Any] | None:
        with self._lock:
            slot = self._slots.get(activation_id)
        if slot is None or not slot.done.wait(timeout_s):
            return None
        return slot.value

    def peek(self, activation_id: str) -> dict[str, Any] | None:
        with self._lock:
            slot = self._slots.get(activation_id)
        return slot.value if slot is not None and slot.done.is_set() else None

    # --- lifecycle ------------------------------------------------------------------------------------

    def shutdown(self, drain_s: float) -> list[str]:
        """Stop accepting, let queued and running activations finish for up to ``drain_s``, then drop what
        has not started (it stays in the spool and runs at the next start). Returns the ids left there."""
        with self._lock:
            self._accepting = False
            futures = dict(self._futures)
        deadline = time.monotonic() + drain_s
        for future in futures.values():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                future.exception(timeout=remaining)
            except TimeoutError:
                break
        left = [aid for aid, future in futures.items() if future.cancel()]
        for aid in left:
            self._deliver(aid, None)  # a blocking caller gets its 202 and the id now, not at its timeout
        # Running ones cannot be cancelled: the caller closes the pool next, which ends them with a record.
        self._executor.shutdown(wait=False)
        return left

    def join(self) -> None:
        """Wait for the running activations (after the pool was closed they end quickly)."""
        self._executor.shutdown(wait=True)

    # --- internals ------------------------------------------------------------------------------------

    def _submit(self, message: ActivationMessage) -> None:
        aid = message.activation_id
        with self._lock:
            self._purge()
            self._slots[aid] = _Slot()
            try:
                self._futures[aid] = self._executor.submit(self._run, message)
            except RuntimeError as e:  # the executor shut down between the check and the submit
                del self._slots[aid]
                raise Unavailable() from e

    def _run(self, message: ActivationMessage) -> None:
        aid = message.activation_id
        try:
            self._invoker.invoke(message, lambda doc: self._deliver(aid, doc))
        except RecordNotStored as e:  # the store is down: keep the record for the next start
            log.error("storing %s failed; kept in the spool: %s", aid, e.__cause__)
            self._spool.keep_record(e.doc)
        except Exception:  # a bug of ours: the message stays in the spool and is recorded at the next start
            log.exception("invoking %s failed", aid)
            self._deliver(aid, None)
            return
        finally:
            with self._lock:
                self._futures.pop(aid, None)
        self._spool.done(aid)

    def _deliver(self, activation_id: str, doc: dict[str, Any] | None) -> None:
        with self._lock:
            slot = self._slots.get(activation_id)
        if slot is not None and not slot.done.is_set():
            slot.value = doc
            slot.finished_at = time.monotonic()
            slot.done.set()

    def _purge(self) -> None:
        """Forget results older than the TTL (at most once a second; called with the lock held)."""
        now = time.monotonic()
        if now - self._last_purge < 1.0:
            return
        self._last_purge = now
        expired = [aid for aid, slot in self._slots.items()
                   if slot.done.is_set() and now - slot.finished_at > self._result_ttl_s]
        for aid in expired:
            del self._slots[aid]
