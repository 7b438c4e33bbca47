"""Finding what a name refers to, with OpenWhisk's read rights on packages (``PackageCollection``).

* A package is readable by its owner, and by anyone when it is published and not a binding.
* A binding is readable by its owner only, and only if the package it binds is readable by that owner.
* A non-owner asking about a private or missing package gets 403, never 404: existence does not leak.

``resolve_action`` also works out the parameters an action inherits: package < binding (< action < payload).
"""

from __future__ import annotations

from app.core.entities import Action, merge_parameters
from app.core.errors import Conflict, Forbidden, Invalid, NotFound
from app.core.identities import Identity
from app.core.invocation import ResolvedAction
from app.core.names import EntityPath
from app.core.packages import Package
from app.core.ports import EntityStore

BINDING_OPERATION = "Operation not permitted on package binding."
NOT_A_PACKAGE = "Resource by this name exists but is not in this collection."


def forbidden(namespace: str, resource: str) -> Forbidden:
    return Forbidden(f"The supplied authentication is not authorized to access '{namespace}/{resource}'.")


class Resolver:
    def __init__(self, entities: EntityStore) -> None:
        self._entities = entities

    def package(self, doc_id: str) -> Package:
        """The package document ``ns/name``. Raises ``NotFound``, or ``Conflict`` for another entity type."""
        doc = self._entities.get_entity(doc_id)
        if doc.get("entityType") != "package":
            raise Conflict(NOT_A_PACKAGE)
        return Package.from_doc(doc)

    def readable_package(self, identity: Identity, namespace: str, name: str) -> Package:
        """The package or binding if ``identity`` may read it; 404 to its owner, 403 to anyone else."""
        return self.package_readable_by(identity.namespace, namespace, name)

    def package_readable_by(self, caller: str, namespace: str, name: str) -> Package:
        """``readable_package`` for a caller known only by its namespace (a composition step in an invoker)."""
        owner = namespace == caller
        package = self._checked(namespace, name, owner, name)
        if package.binding is not None:
            if not owner:
                raise forbidden(namespace, name)
            if package.binding.doc_id == package.doc_id:
                raise Invalid(f"Package binding '{package.fqn}' refers to itself.")
            bound_owner = package.binding.namespace == caller
            bound = self._checked(package.binding.namespace, package.binding.name, bound_owner, name,
                                  report_as=namespace)
            if bound.binding is not None or not (bound.publish or bound_owner):
                raise forbidden(namespace, name)
        elif not (package.publish or owner):
            raise forbidden(namespace, name)
        return package

    def _checked(self, namespace: str, name: str, owner: bool, resource: str,
                 report_as: str | None = None) -> Package:
        try:
            return self.package(f"{namespace}/{name}")
        except (NotFound, Conflict):
            if owner:
                raise
            raise forbidden(report_as or namespace, resource) from None

    def resolve_action(self, identity: Identity, path: EntityPath) -> ResolvedAction:
        """The action ``path`` names, readable (or invokable) by ``identity``; raises 403/404 as above."""
        return self.action_for(identity.namespace, path)

    def action_for(self, caller: str, path: EntityPath) -> ResolvedAction:
        """``resolve_action`` for a caller known only by its namespace (a composition step in an invoker)."""
        if path.package is None:
            if path.namespace != caller:
                raise forbidden(path.namespace, path.relative)
            return ResolvedAction(self.action(path))
        package = self.package_readable_by(caller, path.namespace, path.package)
        if package.binding is None:
            return ResolvedAction(self.action(path), merge_parameters(package.parameters))
        bound = self.package(package.binding.doc_id)
        real = EntityPath(bound.namespace, path.name, bound.name)
        return ResolvedAction(self.action(real), merge_parameters(bound.parameters, package.parameters),
                              binding=package.doc_id)

    def writable_package(self, identity: Identity, path: EntityPath) -> None:
        """For PUT/DELETE of an action: the owner's own package, which must exist and not be a binding."""
        if path.namespace != identity.namespace:
            raise forbidden(path.namespace, path.relative)
        if path.package is None:
            return
        package = self.package(f"{path.namespace}/{path.package}")
        if package.binding is not None:
            raise Invalid(BINDING_OPERATION)

    def action(self, path: EntityPath) -> Action:
        doc = self._entities.get_entity(path.doc_id)
        if doc.get("entityType") != "action":
            raise Conflict(NOT_A_PACKAGE)
        return Action.from_doc(doc)
