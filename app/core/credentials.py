"""Which code an invocation may hand the caller's key to.

A key (``uuid:key``) is its subject's whole identity: whoever holds it may do everything that subject may, for as
long as the key lives. So it goes only to code that the caller's own namespace owns, where it adds nothing the
owner does not have already. The owner of the code is the namespace the action is stored in, after bindings and
package references are resolved; a sequence's components are each judged on their own.

* ``provide-api-key``: the caller's key reaches the action's code (``__OW_API_KEY``, ``api_key`` in ``/run``)
  only when the code's namespace is the invoking one. A public action of another namespace, whether invoked
  directly, through a binding or as a component of the caller's sequence, gets no key at all, as if it had not
  asked (OpenWhisk hands the key on; we do not).
* The feed protocol: a client creating a feed trigger hands the feed action its own key as the ``authKey``
  parameter (wsk, the npm client and our CLI do so by themselves), so that the feed can act for it later. Only
  feeds of the system namespace (the deployment's own catalog) or of the caller's own namespace may receive it:
  a direct invoke that would give the caller's key to another namespace's code is refused, and anywhere else
  (a composition step) the parameter is dropped.
"""

from __future__ import annotations

from typing import Any

from app.core.entities import Action, annotation

SYSTEM_NAMESPACE = "whisk.system"
"""The namespace of the deployment's own catalog, whose feeds are trusted with the caller's key."""

FEED_KEY = "authKey"
"""The parameter in which the feed protocol carries the caller's key."""


def hands_key(action: Action, namespace: str) -> bool:
    """Does ``action``'s code get the key of its caller ``namespace`` (``provide-api-key``)?"""
    return annotation(action.annotations, "provide-api-key") is True and action.path.namespace == namespace


def may_take_key(action: Action, namespace: str) -> bool:
    """May ``action``'s code be given the key of its caller ``namespace`` as a parameter (a feed)?"""
    return action.path.namespace in (namespace, SYSTEM_NAMESPACE)


def carries_key(payload: dict[str, Any] | list[Any], api_key: str | None) -> bool:
    """Does ``payload`` hand on the caller's own key as ``authKey``? (Both come from the caller, so a plain
    comparison reveals nothing the caller does not know.)"""
    return api_key is not None and isinstance(payload, dict) and payload.get(FEED_KEY) == api_key


def key_refused(action: Action) -> str:
    return (f"The action '{action.path.fqn}' belongs to another namespace and may not be given your key "
            f"('{FEED_KEY}'); only feeds of /{SYSTEM_NAMESPACE} or of your own namespace may.")
