"""The invoker: runs one activation message in a container and records what happened.

Order matters (docs/architecture.md, "The life of an invocation", steps 7-8): the result goes to
``publish_result`` first, so a blocking caller wakes at once; the logs are collected after (they may trail the
reply by a few ms), and only then is the record stored. Every path, including "Docker is down", ends in
exactly one stored record.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from app.core.entities import Action, Activation, ActivationMessage, Document, Status, now_ms
from app.core.errors import (
    ActionTimeout,
    ContainerError,
    Invalid,
    NotFound,
    PlatformError,
    Unavailable,
    UserImageStartupError,
)
from app.core.manifest import BLACKBOX, RuntimeManifest
from app.core.metrics import start_kind
from app.core.ports import ActivationStore, EntityStore, SharedWrite, StartJournal
from config.settings import Settings
from workers.backoff import PAUSES_S, Backoff
from workers.codecache import CodeCache
from workers.factories.base import ContainerSpec
from workers.logs import InlineLogs, collect_logs, format_line
from workers.metrics import InvokerMetrics
from workers.pool import BufferTimeout, ContainerPool, Lease
from workers.proxy_client import ContainerDied, ProxyResponse
from workers.records import DirectRecordWriter, RecordSink

log = logging.getLogger(__name__)

class Publish(Protocol):
    """Hands an activation's result to whoever waits for it (``tasks.invoke``), after ``writes``: what the shared
    state must hold before the caller wakes (the journal's copy of the record, the in-flight count left), sent in
    the same round trip (``tasks.results.hand_back``)."""

    def __call__(self, result: Document, /, *writes: SharedWrite) -> None: ...


NOT_FOUND = "Action could not be found or may have been deleted."
PROVISION_FAILED = "Failed to provision resources to run the action."
INTERNAL_ERROR = "There was an internal server error."
REDELIVERED = "The invoker stopped while the action ran; it was not run again."
LOGS_LOST = "The invoker stopped after this activation ended and before its logs were collected."
OOM = "The action exhausted its memory and was aborted."
CONCURRENT_LOGS = ("Logs are not collected for actions with a concurrency limit above 1: "
                   "the output of their activations interleaves.")


@dataclass
class RunNotes:
    """What an activation's record does not say and its log line does, learnt while it runs (filled in by
    ``Invoker.invoke``): how it got its container, ``cold``, ``prewarm`` or ``warm``; None when it got none."""

    start: str | None = None


class TryLater(Unavailable):
    """The activation did not start (the journal could not be reached): put its message back for later."""


class _AlreadyStarted(Exception):
    """The claim before ``/run`` found the activation started before: a redelivery, not to be run again."""


@dataclass(frozen=True)
class Outcome:
    status: Status
    result: Any
    timed_out: bool = False
    oom: bool = False
    logs: InlineLogs | None = None  # sent by the proxy with its answer

    @property
    def reusable(self) -> bool:
        """Only after success or an application error is the container's state known to be sane."""
        return self.status in (Status.SUCCESS, Status.APPLICATION_ERROR)


# --- outcome mapping (https://github.com/apache/openwhisk/blob/master/docs/actions-new.md#action-interface) ---


def _error(message: Any) -> dict[str, Any]:
    return {"error": message}


def init_outcome(response: ProxyResponse) -> Outcome | None:
    """None when ``/init`` succeeded, else the developer error it amounts to."""
    if response.status == 200:
        return None
    if response.is_json and isinstance(response.body, dict):
        return Outcome(Status.DEVELOPER_ERROR, _error(response.body.get("error", response.body)))
    return Outcome(Status.DEVELOPER_ERROR,
                   _error(f"The action failed during initialization: {response.text}".rstrip(": ")))


def run_outcome(response: ProxyResponse, max_bytes: int) -> Outcome:
    """What a ``/run`` answer means: 200 object → success (``error`` key → application error),
    200 array → success, anything else → developer error; oversized → truncated error. A body that is not strict
    JSON (NaN, Infinity, a lone surrogate, too deep: ``ProxyResponse`` reads it as text) is not valid JSON here
    either, so it never reaches the caller or the record store."""
    ok = response.status == 200
    if response.size > max_bytes:
        truncated = response.raw[:max_bytes].decode("utf-8", errors="ignore")
        message = (f"The action produced a response that exceeded the allowed length: "
                   f"{response.size} > {max_bytes} bytes. The truncated response was: {truncated}")
        return Outcome(Status.APPLICATION_ERROR if ok else Status.DEVELOPER_ERROR, _error(message))
    body = response.body
    if response.is_json and isinstance(body, dict):
        if ok:
            return Outcome(Status.APPLICATION_ERROR, _error(body["error"])) if "error" in body \
                else Outcome(Status.SUCCESS, body)
        if "error" in body:
            return Outcome(Status.DEVELOPER_ERROR, _error(body["error"]))
    elif ok and response.is_json and isinstance(body, list):
        return Outcome(Status.SUCCESS, body)
    text = response.text
    detail = f": {text}" if text else "."
    return Outcome(Status.DEVELOPER_ERROR,
                   _error(f"The action did not produce a valid JSON or JSON Array response{detail}"))


def _log_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stringify(value: Any) -> str:
    """An init parameter as an environment value: strings raw, null empty, anything else compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"))


# --- the invoker -------------------------------------------------------------------------------------


class Invoker:
    def __init__(self, entities: EntityStore, activations: ActivationStore, pool: ContainerPool,
                 manifest: RuntimeManifest, settings: Settings, journal: StartJournal, *,
                 action_cache_size: int = 512, records: RecordSink | None = None,
                 retry_pauses_s: tuple[float, ...] = PAUSES_S, metrics: InvokerMetrics | None = None) -> None:
        self._entities = entities
        self._activations = activations
        self._pool = pool
        self._manifest = manifest
        self._settings = settings
        self._journal = journal
        # While the journal or the store is away, an activation waits for it and then starts; after about 30 s
        # its message goes back to the broker for later (``TryLater``) rather than failing an activation that
        # never ran.
        self._journal_backoff = Backoff("Redis (start journal; activations wait to start)", log, retry_pauses_s)
        self._store_backoff = Backoff("CouchDB (actions; activations wait to start)", log, retry_pauses_s)
        self._payload_bytes = settings.limits.payload_bytes
        # Parsed actions by (doc id, rev): a rev never changes content, so entries never go stale.
        self._actions: OrderedDict[tuple[str, str], Action] = OrderedDict()
        self._actions_lock = threading.Lock()
        self._action_cache_size = action_cache_size
        # Attached code by (doc id, attachment name), bounded by bytes: warm invokes of a large action read none.
        self._codes = CodeCache(settings.invoker.code_cache_mb * 1_048_576)
        # Batched writes (``RecordWriter``) in a worker; one PUT per record with retries by default.
        self._records = records if records is not None else DirectRecordWriter(activations)
        # What this invoker counts (``workers.metrics``); kept in a registry nobody serves unless one is given.
        self.metrics = metrics if metrics is not None else InvokerMetrics()

    def store_record(self, doc: Document) -> None:
        """Store a record that an earlier attempt could not (see ``tasks.invoke.store_record``)."""
        self._activations.put_activation(doc)

    def close(self) -> None:
        self._pool.close()
        self._records.close()
        self._journal.close()

    def status(self) -> dict[str, Any]:
        """What the admin pages show of this invoker (read through ``ContainerPool.stats``)."""
        return {"name": self._settings.invoker.name, "ready": True, "pool": self._pool.stats(),
                "threads": self._settings.invoker.threads, "capacity_mb": self._settings.invoker.user_memory_mb}

    def invoke(self, msg: ActivationMessage, publish_result: Publish, notes: RunNotes | None = None) -> Activation:
        """Run ``msg`` and return its record (already published and stored), filling in ``notes``. Raises
        ``TryLater`` when the activation could not start because the journal is unreachable (nothing ran; run
        the message later)."""
        received = now_ms()
        try:
            action = self._fetch(msg)
        except (NotFound, KeyError, TypeError, ValueError):  # gone, or a document we cannot read as an action
            return self._record_unrun(msg, None, self._fallback(msg, received, Status.APPLICATION_ERROR, NOT_FOUND),
                                      publish_result)
        return self._run(msg, action, publish_result, notes)

    def _fetch(self, msg: ActivationMessage) -> Action:
        """The message's action, waiting out a store that is briefly unreachable (as ``_claim`` waits for the
        journal). Raises ``TryLater`` when it stays away: nothing ran, so the message is run later, not failed."""
        cached = self._cached(msg.action, msg.revision)
        if cached is not None and cached.exec.attached is None:
            return cached
        for pause in self._store_backoff.pauses():
            try:
                action = self._action(msg)
            except NotFound:
                self._store_backoff.succeeded()
                raise
            except PlatformError as e:
                if pause is None:
                    raise TryLater(f"action {msg.action} of {msg.activation_id} not fetched: {e}") from e
                self._store_backoff.failed(e, pause)
                continue
            self._store_backoff.succeeded()
            return action
        raise AssertionError("unreachable")

    # --- the action --------------------------------------------------------------------------------

    def _action(self, msg: ActivationMessage) -> Action:
        """The message's action (cached, else read from the store) with its code."""
        cached = self._cached(msg.action, msg.revision)
        if cached is not None:
            try:
                return self._with_code(cached)
            except NotFound:  # its code went with a later revision (SQLite at once, CouchDB once compacted)
                pass
        return self._with_code(self._read_action(msg))

    def _with_code(self, action: Action) -> Action:
        """``action`` with its attached code read in: from the code cache, else from the store by the action's
        revision (``NotFound`` when that revision's code is gone: the action was updated or deleted)."""
        attached = action.exec.attached
        if attached is None:
            return action
        key = (action.path.doc_id, attached.name)
        code = self._codes.get(key)
        if code is None:
            code = attached.decode(self._entities.get_attachment(action.path.doc_id, action.rev or "", attached.name))
            self._codes.put(key, code)
        return replace(action, exec=action.exec.with_code(code))

    def _read_action(self, msg: ActivationMessage) -> Action:
        """The message's action read from the store (and cached, without attached code)."""
        action = Action.from_doc(self._entities.get_entity(msg.action))
        if action.rev != msg.revision:
            # Updated since the controller resolved it: run the newest, as OpenWhisk's fetch by id does.
            log.info("action %s is at %s, message has %s", msg.action, action.rev, msg.revision)
        with self._actions_lock:
            self._actions[(msg.action, action.rev or "")] = action
            while len(self._actions) > self._action_cache_size:
                self._actions.popitem(last=False)
        return action

    def _cached(self, doc_id: str, rev: str) -> Action | None:
        with self._actions_lock:
            action = self._actions.get((doc_id, rev))
            if action is not None:
                self._actions.move_to_end((doc_id, rev))
            return action

    def _image(self, action: Action) -> str:
        if action.exec.kind == BLACKBOX:
            if not action.exec.image:
                raise Invalid("A blackbox action needs an image.")
            return action.exec.image
        return self._manifest.image(action.exec.kind)

    # --- running -----------------------------------------------------------------------------------

    def _run(self, msg: ActivationMessage, action: Action, publish_result: Publish,
             notes: RunNotes | None) -> Activation:
        started = now_ms()
        try:
            spec = ContainerSpec(image=self._image(action), memory_mb=action.limits.memory,
                                 namespace=msg.namespace, action=action.path.name, kind=action.exec.kind,
                                 user_image=action.exec.kind == BLACKBOX,
                                 concurrent=self._manifest.supports_concurrency(action.exec.kind))
        except Invalid as e:  # a kind this invoker's manifest does not know (or a sequence sent here)
            log.error("cannot run %s: %s", msg.action, e.message)
            return self._record_unrun(msg, action, self._failed(msg, action, started, Status.WHISK_ERROR,
                                                                PROVISION_FAILED), publish_result)
        key = (msg.namespace, action.path.doc_id, action.rev or msg.revision)
        concurrency = self._concurrency(action)
        try:
            # The run buffer holds a run for at most its action's timeout: longer, and it could not finish in time.
            lease = self._pool.acquire(key, spec, action.limits.timeout / 1000, concurrency=concurrency)
        except BufferTimeout as e:
            log.warning("activation %s waited %d ms for container memory", msg.activation_id, e.waited_ms)
            return self._record_unrun(msg, action, self._failed(msg, action, started, Status.WHISK_ERROR, e.message),
                                      publish_result)
        except UserImageStartupError as e:
            return self._record_unrun(msg, action, self._failed(msg, action, started, Status.DEVELOPER_ERROR,
                                                                e.message), publish_result)
        except ContainerError as e:
            log.error("no container for %s: %r (cause: %r)", msg.activation_id, e, e.__cause__)
            return self._record_unrun(msg, action, self._failed(msg, action, started, Status.WHISK_ERROR,
                                                                PROVISION_FAILED), publish_result)
        ready = now_ms()
        how = start_kind(lease.initialized, lease.from_prewarm)  # decided before /init: a failed one counts too
        if notes is not None:
            notes.start = how
        try:
            outcome, init_ms, start, end = self._init_and_run(msg, action, lease, ready)
            self.metrics.started(msg.namespace, action.exec.kind, how)
        except _AlreadyStarted:
            self._pool.release(lease, reusable=True)  # nothing ran in it for this message
            return self._redelivered(msg, action, started, publish_result)
        except TryLater:
            self._pool.release(lease, reusable=True)
            raise
        except Exception:  # a bug of ours must still end in a record and give the memory back
            log.exception("running %s failed", msg.activation_id)
            outcome, init_ms, start, end = Outcome(Status.WHISK_ERROR, _error(INTERNAL_ERROR)), None, ready, now_ms()
        annotations = self._annotations(msg, action, wait_ms=ready - msg.received_ms, init_ms=init_ms,
                                        timed_out=outcome.timed_out)
        activation = self._activation(msg, action, start, end, outcome, annotations)
        self._publish(activation, publish_result, *self._keep_later(activation))
        if concurrency > 1:
            self._pool.release(lease, reusable=outcome.reusable)
            logs = [format_line(_log_time(), "stderr", CONCURRENT_LOGS)] if action.limits.logs > 0 else []
            return self._store_ran(replace(activation, logs=logs), msg)
        # A reusable container goes back at once, so a caller's next invoke finds it warm rather than starting
        # another while these logs are read (its output lands after this activation's sentinels).
        early = outcome.reusable
        try:
            with lease.pooled.log_lock:
                if early:
                    self._pool.release(lease, reusable=True)
                logs = collect_logs(lease.container, lease.pooled.cursor, action.limits.logs,
                                    developer_error=outcome.status == Status.DEVELOPER_ERROR, inline=outcome.logs)
        finally:
            if not early:  # outside the lock: destroying waits for log readers
                self._pool.release(lease, reusable=False)
        return self._store_ran(replace(activation, logs=logs), msg)

    def _concurrency(self, action: Action) -> int:
        """The action's concurrency limit where its runtime takes concurrent activations, else 1."""
        if action.limits.concurrency > 1 and self._manifest.supports_concurrency(action.exec.kind):
            return action.limits.concurrency
        return 1

    def _init_and_run(self, msg: ActivationMessage, action: Action, lease: Lease,
                      ready: int) -> tuple[Outcome, int | None, int, int]:
        """(outcome, initTime or None when warm, start, end) of ``/init`` (when cold) then ``/run``.

        A developer error in a container whose memory ran out is recorded as the out-of-memory error."""
        outcome, init_ms, start, end = self._init_and_run_once(msg, action, lease, ready)
        if outcome.status == Status.DEVELOPER_ERROR and not outcome.timed_out and lease.container.oom_killed():
            outcome = Outcome(Status.DEVELOPER_ERROR, _error(OOM), oom=True, logs=outcome.logs)
        return outcome, init_ms, start, end

    def _init_and_run_once(self, msg: ActivationMessage, action: Action, lease: Lease,
                           ready: int) -> tuple[Outcome, int | None, int, int]:
        timeout_s = action.limits.timeout / 1000
        init_ms: int | None = None
        start = ready
        if not lease.initialized:
            start = now_ms()
            try:
                response = lease.proxy.init(self._init_payload(msg, action, start), timeout_s)
                failed = init_outcome(response)
            except ActionTimeout as e:
                failed = Outcome(Status.DEVELOPER_ERROR, _error(e.message), timed_out=True)
            except ContainerDied as e:
                failed = Outcome(Status.DEVELOPER_ERROR, _error(e.message))
            end = now_ms()
            init_ms = end - start
            if failed is not None:
                self._claim(msg.activation_id)  # its record is final: a redelivery must find it, not run the action
                return failed, init_ms, start, end
            lease.pooled.initialized = True
        self._claim(msg.activation_id)  # the last moment before the action's code runs for this activation
        run_start = now_ms()
        if init_ms is None:
            start = run_start
        try:
            # The lines with the answer, where they can be told apart from other activations' (one at a time).
            wanted = action.limits.logs > 0 and self._concurrency(action) == 1
            response = lease.proxy.run(self._run_payload(msg, action, run_start), timeout_s,
                                       log_limit=action.limits.logs * 1024 * 1024 if wanted else None)
            outcome = replace(run_outcome(response, self._payload_bytes), logs=response.logs)
        except ActionTimeout as e:
            outcome = Outcome(Status.DEVELOPER_ERROR, _error(e.message), timed_out=True)
        except ContainerDied as e:
            outcome = Outcome(Status.DEVELOPER_ERROR, _error(e.message))
        return outcome, init_ms, start, now_ms()

    def _claim(self, activation_id: str) -> None:
        """Claim the activation in the journal, waiting out a journal that is briefly unreachable. Raises
        ``_AlreadyStarted`` for an activation that started before, ``TryLater`` when the journal stays away."""
        for pause in self._journal_backoff.pauses():
            try:
                claimed = self._journal.claim(activation_id)
            except Unavailable as e:
                if pause is None:
                    raise TryLater(f"activation {activation_id} not started: {e.message}") from e
                self._journal_backoff.failed(e.message, pause)
                continue
            self._journal_backoff.succeeded()
            if not claimed:
                raise _AlreadyStarted(activation_id)
            return

    def _init_payload(self, msg: ActivationMessage, action: Action, start: int) -> dict[str, Any]:
        env = self._ow_env(msg, action, deadline=start + action.limits.timeout)
        env.update({key: stringify(value) for key, value in msg.init_args.items()})
        value: dict[str, Any] = {"name": action.path.name, "main": action.exec.main or "main",
                                 "binary": action.exec.binary, "env": env}
        if action.exec.code:  # a blackbox without code runs its image's own executable: send none,
            value["code"] = action.exec.code  # as OpenWhisk does ("" would replace that executable)
        return {"value": value}

    def _ow_env(self, msg: ActivationMessage, action: Action, deadline: int) -> dict[str, str]:
        env = {
            "__OW_NAMESPACE": msg.namespace,
            "__OW_ACTION_NAME": action.path.fqn,
            "__OW_ACTION_VERSION": action.version,
            "__OW_ACTIVATION_ID": msg.activation_id,
            "__OW_TRANSACTION_ID": msg.transaction_id,
            "__OW_DEADLINE": str(deadline),
        }
        if msg.api_key:
            env["__OW_API_KEY"] = msg.api_key
        return env

    def _run_payload(self, msg: ActivationMessage, action: Action, start: int) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "value": msg.content,
            "namespace": msg.namespace,
            "action_name": action.path.fqn,
            "action_version": action.version,
            "activation_id": msg.activation_id,
            "transaction_id": msg.transaction_id,
            "deadline": str(start + action.limits.timeout),
        }
        if msg.api_key:
            payload["api_key"] = msg.api_key
        return payload

    # --- records -----------------------------------------------------------------------------------

    def _annotations(self, msg: ActivationMessage, action: Action | None, *, wait_ms: int | None = None,
                     init_ms: int | None = None, timed_out: bool = False) -> list[dict[str, Any]]:
        annotations: list[dict[str, Any]] = [{"key": "path", "value": action.path.doc_id if action else msg.action}]
        if wait_ms is not None:
            annotations.append({"key": "waitTime", "value": max(wait_ms, 0)})
        if action is not None:
            annotations.append({"key": "kind", "value": action.exec.kind})
        annotations.append({"key": "timeout", "value": timed_out})
        if action is not None:
            annotations.append({"key": "limits", "value": action.limits.to_doc()})
        if init_ms is not None:
            annotations.append({"key": "initTime", "value": init_ms})
        if msg.binding:
            annotations.append({"key": "binding", "value": msg.binding})
        if msg.cause:
            annotations.append({"key": "causedBy", "value": "sequence"})
        return annotations

    def _activation(self, msg: ActivationMessage, action: Action, start: int, end: int, outcome: Outcome,
                    annotations: list[dict[str, Any]]) -> Activation:
        return Activation.ended(
            namespace=msg.namespace, name=action.path.name, version=action.version, subject=msg.subject,
            activation_id=msg.activation_id, start=start, end=end, status=outcome.status,
            result=outcome.result, annotations=annotations, cause=msg.cause,
        )

    def _failed(self, msg: ActivationMessage, action: Action, at: int, status: Status, message: str) -> Activation:
        """The record of an activation that never reached its action's code."""
        annotations = self._annotations(msg, action, wait_ms=at - msg.received_ms)
        return self._activation(msg, action, at, now_ms(), Outcome(status, _error(message)), annotations)

    def _fallback(self, msg: ActivationMessage, at: int, status: Status, message: str) -> Activation:
        """The record when even the action is unknown: name from the message's doc id."""
        return Activation.ended(
            namespace=msg.namespace, name=msg.action.rsplit("/", 1)[-1], version="0.0.1", subject=msg.subject,
            activation_id=msg.activation_id, start=at, end=now_ms(), status=status, result=_error(message),
            annotations=self._annotations(msg, None), cause=msg.cause,
        )

    def _record_unrun(self, msg: ActivationMessage, action: Action | None, activation: Activation,
                      publish_result: Publish) -> Activation:
        """Record an activation that never reached ``/run``, claiming it first so that a redelivery of its message
        (this invoker stopped before the acknowledgement) finds this record instead of running the action. A
        journal that cannot be reached does not hold the record back."""
        try:
            first = self._journal.claim(msg.activation_id)
        except Unavailable as e:
            log.warning("recording %s unclaimed: %s", msg.activation_id, e.message)
            first = True
        if not first:
            return self._redelivered(msg, action, activation.start, publish_result)
        return self._record(activation, publish_result, msg)

    def _redelivered(self, msg: ActivationMessage, action: Action | None, at: int,
                     publish_result: Publish) -> Activation:
        """A message whose activation already started here or elsewhere: never run it again. Its record is the one
        stored, else the one the journal kept when it ended (its invoker stopped before storing it), else it
        stopped while the action ran: that is recorded."""
        try:
            kept = self._journal.kept(msg.activation_id)
        except Unavailable as e:
            raise TryLater(f"redelivered activation {msg.activation_id}: {e.message}") from e
        if kept is not None:
            lost = [format_line(_log_time(), "stderr", LOGS_LOST)] if action is None or action.limits.logs > 0 else []
            activation = replace(Activation.from_doc(kept), logs=lost)
            self._record(activation, publish_result, msg)
            self._forget(msg.activation_id)
            return activation
        try:
            existing = Activation.from_doc(self._activations.get_activation(msg.namespace, msg.activation_id))
        except NotFound:
            return self._record(self._interrupted(msg, action, at), publish_result, msg)
        except PlatformError as e:  # the store is away: store the interruption; a record stored before wins
            log.warning("cannot look up the record of redelivered activation %s: %s", msg.activation_id, e)
            return self._record(self._interrupted(msg, action, at), publish_result, msg)
        self._publish(existing, publish_result)
        return existing

    def _interrupted(self, msg: ActivationMessage, action: Action | None, at: int) -> Activation:
        if action is None:
            return self._fallback(msg, at, Status.WHISK_ERROR, REDELIVERED)
        return self._failed(msg, action, at, Status.WHISK_ERROR, REDELIVERED)

    def _keep_later(self, activation: Activation) -> tuple[SharedWrite, ...]:
        """Hold the record in the journal until it is stored: should this invoker stop before, the redelivered
        message stores it instead of recording an interruption. The write goes out with the result, ahead of it
        (one round trip instead of two before the caller wakes)."""
        # The kept records of activations stored since the last result was handed back are dropped with it.
        forgotten = self._journal.forgotten()
        writes = () if forgotten is None else (forgotten,)
        try:
            write = self._journal.keep_later(activation.activation_id, activation.to_doc())
        except Unavailable as e:
            log.warning("the record of %s is not kept in the journal: %s", activation.activation_id, e.message)
            return writes
        return writes if write is None else (*writes, write)

    def _forget(self, activation_id: str) -> None:
        try:
            self._journal.forget(activation_id)
        except Unavailable as e:  # it expires on its own
            log.warning("the kept record of %s is not dropped: %s", activation_id, e.message)

    def _record(self, activation: Activation, publish_result: Publish, msg: ActivationMessage) -> Activation:
        self._publish(activation, publish_result)
        return self._store(activation, msg)

    def _publish(self, activation: Activation, publish_result: Publish, *writes: SharedWrite) -> None:
        try:
            publish_result(activation.to_api(), *writes)
        except Exception:  # the record must still be stored and the container released
            # (a journal copy that went with it is lost: a redelivery records an interruption instead)
            log.exception("publishing the result of %s failed", activation.activation_id)

    def _store(self, activation: Activation, msg: ActivationMessage) -> Activation:
        """Store the record (the sink retries a store that is briefly down); ``RecordNotStored`` propagates.
        Not at all when the namespace keeps no records (``storeActivations: false``)."""
        if msg.store_record:
            self._records.store(activation.to_doc())
        return activation

    def _store_ran(self, activation: Activation, msg: ActivationMessage) -> Activation:
        """Store the record of an activation that ran, then drop the copy the journal kept of it (with the next
        result handed back: ``_keep_later``)."""
        self._store(activation, msg)
        self._journal.forget_later(activation.activation_id)
        return activation
