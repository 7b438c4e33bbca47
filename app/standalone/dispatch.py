"""``InProcessDispatcher``: the ``Dispatcher`` port without a broker, for the standalone platform.

Like OpenWhisk's lean balancer, the controller hands each activation straight to an invoker in the same
process: a thread pool runs ``Invoker.invoke``, and a blocking caller waits on an event set when the result
is published. Why not Celery on an embedded transport: its filesystem and SQL transports lost tasks when a
worker was killed, and poll (docs/dependencies.md). Durability comes from the ``Spool`` instead: a message is on disk
before ``publish`` returns and leaves it only once its record is stored, so a crash loses nothing accepted;
start claims keep a replayed activation from running twice.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from app.core.entities import Activation, ActivationMessage, Document
from app.core.errors import StoreError, Unavailable
from app.core.invokers import InvokerStatus
from app.core.ports import NOT_SENT, Ahead, InFlight, SharedWrite
from app.core.services.compositions import CompositionService
from app.standalone.spool import Spool
from workers.completion import ActivationRunner
from workers.invoker import Invoker
from workers.metrics import InvokerMetrics

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    """Where a blocking caller waits for one activation's result."""

    done: threading.Event = field(default_factory=threading.Event)
    value: Activation | None = None
    finished_at: float = 0.0
    created_at: float = field(default_factory=time.monotonic)


class InProcessDispatcher:
    """Implements ``app.core.ports.Dispatcher`` with a thread pool and an ``Invoker`` in this process, and
    ``FollowUps`` for it: a record the store refused is kept in the spool, a composition goes on in the pool.

    ``result_ttl_s`` bounds how long finished results stay for ``wait``/``peek`` (the record is in the store).
    """

    def __init__(self, invoker: Invoker, spool: Spool, threads: int, result_ttl_s: float,
                 inflight: InFlight | None = None, metrics: InvokerMetrics | None = None) -> None:
        self._invoker = invoker
        # The controller's count of activations in flight is released here.
        self._runner = ActivationRunner(invoker, self, inflight=inflight, metrics=metrics)
        self._spool = spool
        self._result_ttl_s = result_ttl_s
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="squall-invoke")
        self._slots: dict[str, _Slot] = {}
        self._futures: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._accepting = True
        self._last_purge = time.monotonic()
        self._compositions: CompositionService | None = None

    def attach_compositions(self, service: CompositionService) -> None:
        """Run sequence and conductor steps here too (the service publishes its components through us)."""
        self._compositions = service

    def recover(self) -> int:
        """Store records and run messages an earlier run left in the spool; returns how many messages."""
        for path, doc in self._spool.kept_records():
            try:
                self._runner.store_record(doc)  # one the store refuses becomes a dead letter
                path.unlink()
            except StoreError as e:
                log.warning("a kept record still cannot be stored: %s", e)
        pending = self._spool.pending()
        for message in pending:
            self._submit(message)
        return len(pending)

    # --- Dispatcher -----------------------------------------------------------------------------------

    def publish(self, message: ActivationMessage, ahead: Ahead | None = None) -> None:
        if ahead is not None:
            ahead.then(NOT_SENT)  # counted in this process: there is no round trip to share
        if not self._accepting:
            raise Unavailable()
        try:
            self._spool.accept(message)
        except OSError as e:
            raise Unavailable() from e
        self._submit(message)

    def wait(self, activation_id: str, timeout_s: float) -> Activation | None:
        with self._lock:
            # A composition's own id has no message of its own: its slot is made by whoever comes first.
            slot = self._slots.setdefault(activation_id, _Slot())
        if not slot.done.wait(timeout_s):
            return None
        return slot.value

    # --- CompositionStarter and ResultSink (sequences and conductor actions) ----------------------------

    def publish_step(self, step: dict[str, Any], key: str) -> None:
        """Run one composition step on the pool. Unlike activations it is not spooled: a crash mid-sequence
        loses the rest of that sequence (its components that ran keep their records)."""
        del key  # one invoker here: no home queue to choose
        if not self._accepting or self._compositions is None:
            raise Unavailable()
        try:
            self._executor.submit(self._step, step)
        except RuntimeError as e:
            raise Unavailable() from e

    def store_result(self, activation_id: str, activation: dict[str, Any]) -> None:
        self._deliver(activation_id, activation)

    # --- FollowUps (after each activation, ``workers.completion``) ---------------------------------------

    def keep_record(self, doc: Document) -> None:
        """The store is down: keep the record in the spool; the next start stores it."""
        log.error("storing %s failed; kept in the spool", doc.get("activationId"))
        self._spool.keep_record(doc)

    def continue_composition(self, event: dict[str, Any]) -> None:
        self._step(event)

    def peek(self, activation_id: str) -> Activation | None:
        with self._lock:
            slot = self._slots.get(activation_id)
        return slot.value if slot is not None and slot.done.is_set() else None

    # --- InvokerMonitor (the admin pages' invokers view) ------------------------------------------------

    def invokers(self) -> list[InvokerStatus]:
        """The one invoker of this process, with the activations queued for it."""
        with self._lock:
            queued = sum(1 for future in self._futures.values() if not future.running())
        return [InvokerStatus.from_report(socket.gethostname(), self._runner.status(), queued)]

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

    def waiting(self) -> int:
        """Activations accepted and not started yet (waiting for a thread): this invoker's queue."""
        with self._lock:
            return sum(1 for future in self._futures.values() if not future.running() and not future.done())

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
            self._runner.run(message, lambda doc, *writes: self._deliver(aid, doc, writes))
        except Exception:  # a bug of ours: the message stays in the spool and is recorded at the next start
            log.exception("invoking %s failed", aid)
            self._deliver(aid, None)
            return
        finally:
            with self._lock:
                self._futures.pop(aid, None)
        self._spool.done(aid)

    def _step(self, event: dict[str, Any]) -> None:
        """One composition step, retried while the store is briefly down (as the Celery task retries)."""
        assert self._compositions is not None
        for pause in (0.5, 1.0, 2.0, 4.0, None):
            try:
                self._compositions.step(**event)
                return
            except (StoreError, Unavailable) as e:
                if pause is None:
                    log.error("a composition step failed for good: %s", e)
                    return
                time.sleep(pause)  # backoff between retries of a step, not synchronisation
            except Exception:
                log.exception("a composition step failed")
                return

    def _deliver(self, activation_id: str, doc: Document | None, writes: tuple[SharedWrite, ...] = ()) -> None:
        # Standalone's journal (the spool) and in-flight count are this process's: they write at once, never later.
        assert not writes, "standalone has no shared state to send writes to"
        activation = Activation.from_doc(doc) if doc is not None else None
        with self._lock:
            slot = self._slots.get(activation_id)
            if slot is None and doc is not None:  # a composition result can arrive before its waiter
                slot = self._slots[activation_id] = _Slot()
        if slot is not None and not slot.done.is_set():
            slot.value = activation
            slot.finished_at = time.monotonic()
            slot.done.set()

    def _purge(self) -> None:
        """Forget results older than the TTL (at most once a second; called with the lock held)."""
        now = time.monotonic()
        if now - self._last_purge < 1.0:
            return
        self._last_purge = now
        expired = [aid for aid, slot in self._slots.items()
                   if (slot.done.is_set() and now - slot.finished_at > self._result_ttl_s)
                   or now - slot.created_at > 2 * self._result_ttl_s]
        for aid in expired:
            del self._slots[aid]
