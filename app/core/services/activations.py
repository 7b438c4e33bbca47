"""Reading activation records: one by id, its result and logs, and newest-first lists."""

from __future__ import annotations

from app.core.entities import Activation
from app.core.errors import Invalid, NotFound
from app.core.identities import Identity
from app.core.ports import ActivationStore, Dispatcher
from app.core.services.entitlement import check_owner

ACTIVATION_ID_LENGTH = 32


class ActivationService:
    def __init__(self, activations: ActivationStore, dispatcher: Dispatcher | None = None) -> None:
        self._activations = activations
        self._dispatcher = dispatcher

    def get(self, identity: Identity, namespace: str, activation_id: str) -> Activation:
        check_owner(identity, namespace)
        if len(activation_id) != ACTIVATION_ID_LENGTH:
            raise Invalid(f"Activation id length is {len(activation_id)} but must be {ACTIVATION_ID_LENGTH}.")
        try:
            return Activation.from_doc(self._activations.get_activation(namespace, activation_id))
        except NotFound:
            # The record is written after the result is handed back; until it lands the result
            # backend may already know the answer (logs follow with the record).
            found = self._dispatcher.peek(activation_id) if self._dispatcher else None
            if found is None or found.get("namespace") != namespace:
                raise
            return Activation.from_doc(found)

    def list(self, identity: Identity, namespace: str, name: str | None, since: int | None,
             upto: int | None, skip: int, limit: int) -> list[Activation]:
        check_owner(identity, namespace)
        docs = self._activations.list_activations(namespace, name, since, upto, skip, limit)
        return [Activation.from_doc(d) for d in docs]

    def count(self, identity: Identity, namespace: str, name: str | None, since: int | None,
              upto: int | None) -> int:
        check_owner(identity, namespace)
        return self._activations.count_activations(namespace, name, since, upto)
