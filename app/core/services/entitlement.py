"""Who may touch what. For now the owner of a namespace has every right in it and nobody else has any."""

from __future__ import annotations

from app.core.errors import Forbidden
from app.core.identities import Identity
from app.core.names import DEFAULT_NAMESPACE


def resolve_namespace(identity: Identity, namespace: str) -> str:
    """``_`` is the caller's own namespace."""
    return identity.namespace if namespace == DEFAULT_NAMESPACE else namespace


def check_owner(identity: Identity, namespace: str, resource: str | None = None) -> None:
    """Raise ``Forbidden`` unless ``identity`` owns ``namespace``; never says whether the resource exists."""
    if namespace != identity.namespace:
        if resource:
            raise Forbidden(f"The supplied authentication is not authorized to access '{namespace}/{resource}'.")
        raise Forbidden(f"The supplied authentication is not authorized to access '{namespace}'.")
