"""What one invocation is made of: the action as the caller reaches it (``ResolvedAction``) and the one builder of
the ``ActivationMessage`` that carries it to an invoker, used by direct invokes, triggers and composition steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.credentials import FEED_KEY, carries_key, hands_key, may_take_key
from app.core.entities import Action, ActivationMessage, merge_parameters


@dataclass(frozen=True)
class ResolvedAction:
    """An action as reached through a name: the stored action, what it inherits, and the binding used."""

    action: Action
    inherited: dict[str, Any] = field(default_factory=dict)  # package params, then binding params over them
    binding: str | None = None  # "ns/binding" when reached through a binding

    def parameters(self, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """package < binding < action < payload (the action's init parameters are not among them)."""
        return merge_parameters(self.inherited, self.action.parameters, payload or {})

    def init_args(self, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """The parameters marked ``init`` (handed to ``/init`` as environment, not to ``/run``), with a payload's
        value over the action's, as OpenWhisk's ``partitionArguments`` splits them."""
        init = {p["key"]: p.get("value") for p in self.action.parameters if p.get("init")}
        if payload:
            init.update({key: payload[key] for key in init.keys() & payload.keys()})
        return init

    def message(self, *, activation_id: str, transaction_id: str, namespace: str, subject: str,
                payload: dict[str, Any] | list[Any], blocking: bool, received_ms: int, api_key: str | None,
                cause: str | None = None, continuation: dict[str, Any] | None = None,
                store_record: bool = True) -> ActivationMessage:
        """The activation message for invoking this action as ``namespace``/``subject``.

        A dict ``payload`` is merged over the parameters (init ones split off); a list (a sequence passing an
        array result on) is sent as it is. The caller's key goes along only when the action asks for it
        (``provide-api-key``) and its code is the caller's own; an ``authKey`` that hands the caller's key to
        another namespace's code is dropped (``app.core.credentials``)."""
        foreign = not may_take_key(self.action, namespace)
        if isinstance(payload, dict):
            if foreign:  # before the merge, so that the action's own value of the parameter applies
                payload = _without_key(payload, api_key)
            init_args = self.init_args(payload)
            content: dict[str, Any] | list[Any] = {k: v for k, v in self.parameters(payload).items()
                                                   if k not in init_args}
        else:
            init_args, content = self.init_args(), payload
        if foreign:  # and after it: a binding's parameter may hold the key too
            init_args = _without_key(init_args, api_key)
            if isinstance(content, dict):  # a list has no names, so no authKey
                content = _without_key(content, api_key)
        return ActivationMessage(
            activation_id=activation_id, transaction_id=transaction_id, namespace=namespace, subject=subject,
            action=self.action.path.doc_id, revision=self.action.rev or "", content=content, blocking=blocking,
            received_ms=received_ms, api_key=api_key if hands_key(self.action, namespace) else None,
            binding=self.binding, cause=cause, init_args=init_args, continuation=continuation,
            memory_mb=self.action.limits.memory, store_record=store_record,
        )


def _without_key(values: dict[str, Any], api_key: str | None) -> dict[str, Any]:
    """``values`` without an ``authKey`` that is the caller's own key."""
    return {k: v for k, v in values.items() if k != FEED_KEY} if carries_key(values, api_key) else values
