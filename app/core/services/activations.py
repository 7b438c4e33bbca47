"""Reading activation records: one by id, its result and logs, and newest-first lists."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable

from app.core.activity import ActivationFilter, ActivationPage, Dashboard, summarize
from app.core.entities import Activation
from app.core.errors import Invalid, NotFound, PlatformError, StoreError
from app.core.identities import Identity
from app.core.ports import ActivationStore, Dispatcher
from app.core.services.entitlement import check_owner

ACTIVATION_ID_LENGTH = 32
SCAN_BATCH = 200
SCAN_CAP = 5_000
"""Most records read to fill one filtered page or one dashboard, so a page never reads a whole database."""
RECORD_POLL_FIRST_S = 0.005
"""The first pause before reading again a record about to land: it usually lands within milliseconds."""
RECORD_POLL_MAX_S = 0.05
"""The longest pause between those reads (they double up to it), so a record that is late costs 20 reads a
second while a reader waits for it, and only while one does."""


class ActivationService:
    def __init__(self, activations: ActivationStore, dispatcher: Dispatcher | None = None,
                 record_wait_s: float = 0.0, records_kept: Callable[[str], bool] = lambda namespace: True) -> None:
        self._activations = activations
        self._dispatcher = dispatcher
        self._record_wait_s = record_wait_s
        self._records_kept = records_kept  # storeActivations per namespace

    def get(self, identity: Identity, namespace: str, activation_id: str) -> Activation:
        """The stored record; for a finished activation whose record has not landed yet, the record once it lands
        within ``record_wait_s``, else the result backend's copy (no logs yet). Raises ``Invalid`` for an id of
        the wrong length, ``NotFound`` when neither has it, ``StoreError`` when the store cannot be read."""
        check_owner(identity, namespace)
        if len(activation_id) != ACTIVATION_ID_LENGTH:
            raise Invalid(f"Activation id length is {len(activation_id)} but must be {ACTIVATION_ID_LENGTH}.")
        try:
            return Activation.from_doc(self._activations.get_activation(namespace, activation_id))
        except NotFound:
            if not self._records_kept(namespace):  # no record will land: 404, as OpenWhisk answers then
                raise
            # The record is written after the result is handed back; until it lands the result
            # backend may already know the answer (logs follow with the record).
            found = self._peek(activation_id)
            if found is None or found.namespace != namespace:
                raise
        # It finished, so its record (with the logs a script reads next) is on its way: worth a short wait.
        return self._landed(namespace, activation_id) or found

    def _landed(self, namespace: str, activation_id: str) -> Activation | None:
        """The stored record if it lands within ``record_wait_s``, else None. Polls: no notification tells a
        controller that an invoker stored a record, and the reads are few and bounded."""
        deadline = time.monotonic() + self._record_wait_s
        pause = RECORD_POLL_FIRST_S
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(pause, left))
            try:
                return Activation.from_doc(self._activations.get_activation(namespace, activation_id))
            except NotFound:
                pause = min(pause * 2, RECORD_POLL_MAX_S)
            except StoreError:  # the store went away meanwhile: the copy in hand still answers
                return None
        return None

    def _peek(self, activation_id: str) -> Activation | None:
        """The result backend's copy, or None: when it cannot be read, the store's answer (not found) stands."""
        if self._dispatcher is None:
            return None
        try:
            return self._dispatcher.peek(activation_id)
        except PlatformError:
            return None

    def stored(self, identity: Identity, namespace: str, activation_id: str) -> Activation | None:
        """The stored record (with its logs), or None while the invoker has not stored it yet."""
        check_owner(identity, namespace)
        try:
            return Activation.from_doc(self._activations.get_activation(namespace, activation_id))
        except NotFound:
            return None

    def list(self, identity: Identity, namespace: str, name: str | None, since: int | None,
             upto: int | None, skip: int, limit: int) -> list[Activation]:
        check_owner(identity, namespace)
        docs = self._activations.list_activations(namespace, name, since, upto, skip, limit)
        return [Activation.from_doc(d) for d in docs]

    def count(self, identity: Identity, namespace: str, name: str | None, since: int | None,
              upto: int | None) -> int:
        check_owner(identity, namespace)
        return self._activations.count_activations(namespace, name, since, upto)

    def search(self, identity: Identity, namespace: str, query: ActivationFilter, skip: int,
               limit: int) -> ActivationPage:
        """Newest first; ``query.name`` and the time range are the store's, status and cold/warm are filtered
        here over at most ``SCAN_CAP`` records."""
        check_owner(identity, namespace)
        if not query.filters_locally:
            docs = self._activations.list_activations(namespace, query.name, query.since, query.upto, skip,
                                                      limit + 1)
            items = [Activation.from_doc(d) for d in docs]
            return ActivationPage(items[:limit], skip, limit, more=len(items) > limit)
        matched: builtins.list[Activation] = []
        offset = 0
        while offset < SCAN_CAP:
            docs = self._activations.list_activations(namespace, query.name, query.since, query.upto, offset,
                                                      SCAN_BATCH)
            matched += [a for a in map(Activation.from_doc, docs) if query.matches(a)]
            offset += len(docs)
            if len(matched) > skip + limit or len(docs) < SCAN_BATCH:
                return ActivationPage(matched[skip:skip + limit], skip, limit, more=len(matched) > skip + limit)
        return ActivationPage(matched[skip:skip + limit], skip, limit, more=len(matched) > skip + limit,
                              scanned_all=False)

    def latest(self, identity: Identity, namespace: str, name: str) -> Activation | None:
        check_owner(identity, namespace)
        docs = self._activations.list_activations(namespace, name, None, None, 0, 1)
        return Activation.from_doc(docs[0]) if docs else None

    def dashboard(self, identities: builtins.list[Identity], since_ms: int, until_ms: int) -> Dashboard:
        """The dashboard over the namespaces of ``identities`` (one for a user, all for the operator)."""
        records: builtins.list[Activation] = []
        truncated = False
        for identity in identities:
            check_owner(identity, identity.namespace)
            docs = self._activations.list_activations(identity.namespace, None, since_ms, until_ms, 0, SCAN_CAP)
            truncated = truncated or len(docs) >= SCAN_CAP
            records += map(Activation.from_doc, docs)
        return summarize(records, since_ms, until_ms, truncated=truncated)
