"""Create, read, update, delete and list packages and bindings (OpenWhisk ``Packages.scala``;
https://github.com/apache/openwhisk/blob/master/docs/packages.md)."""

from __future__ import annotations

from dataclasses import replace

from app.core.entities import Action, Document, annotation, bump_patch, now_ms
from app.core.errors import Conflict, Invalid, NotFound
from app.core.identities import Identity
from app.core.names import DEFAULT_NAMESPACE
from app.core.packages import Binding, Package, check_package_name
from app.core.ports import EntityStore
from app.core.requests import PackagePut, key_values
from app.core.services.actions import SizeLimits, check_sizes, check_skip
from app.core.services.entitlement import check_owner
from app.core.services.resolution import Resolver

BINDING_MISSING = "Binding references a package that does not exist."
BINDING_TO_BINDING = "Cannot bind to another package binding."
BINDING_NOT_PACKAGE = "Cannot bind to a resource that is not a package."
PACKAGE_TO_BINDING = "Resource is a package and cannot be converted into a binding."
BINDING_TO_PACKAGE = "Resource is a binding and cannot be converted into a package."
_ALL = 10_000  # a package's actions are listed whole in GET


def not_empty(count: int) -> str:
    return f"Package not empty (contains {count} entities). Set force param or delete package contents."


class PackageService:
    def __init__(self, entities: EntityStore, parameters_bytes: int = SizeLimits.parameters_bytes) -> None:
        self._entities = entities
        self._resolver = Resolver(entities)
        self._parameters_bytes = parameters_bytes

    def get(self, identity: Identity, namespace: str, name: str) -> Document:
        """Package (or binding) with ``actions`` and ``feeds``; a binding shows the bound package's actions and
        its parameters under the binding's. 403 to a non-owner of a private or missing package, 404 to its owner.
        """
        package = self._resolver.readable_package(identity, namespace, name)
        shown = package
        contents = package.doc_id
        if package.binding is not None:
            bound = self._resolver.package(package.binding.doc_id)
            contents = bound.doc_id
            merged = {p["key"]: p for p in bound.parameters}
            merged.update({p["key"]: p for p in package.parameters})
            shown = replace(package, parameters=list(merged.values()))
        doc = shown.to_api()
        actions = [Action.from_doc(d) for d in self._entities.list_entities(contents, "action", 0, _ALL)
                   if d.get("namespace") == contents]
        entries = [{"name": a.path.name, "version": a.version, "annotations": a.annotations} for a in actions]
        doc["actions"] = [e for e, a in zip(entries, actions, strict=True) if not annotation(a.annotations, "feed")]
        doc["feeds"] = [e for e, a in zip(entries, actions, strict=True) if annotation(a.annotations, "feed")]
        return doc

    def list(self, identity: Identity, namespace: str, skip: int, limit: int) -> list[Package]:
        """All of the caller's own packages; in another namespace only the published ones that are not bindings."""
        check_skip(skip, "packages")
        if namespace == identity.namespace:
            return [Package.from_doc(d) for d in self._entities.list_entities(namespace, "package", skip, limit)]
        found = [Package.from_doc(d) for d in self._entities.list_entities(namespace, "package", 0, _ALL)]
        public = [p for p in found if p.publish and p.binding is None]
        return public[skip:skip + limit]

    def count(self, identity: Identity, namespace: str) -> int:
        if namespace == identity.namespace:
            return self._entities.count_entities(namespace, "package")
        return len(self.list(identity, namespace, 0, _ALL))

    def put(self, identity: Identity, namespace: str, name: str, body: PackagePut, overwrite: bool) -> Package:
        """Create, or update when ``overwrite``. What the request alone decides (names, the binding's form,
        sizes) is checked before the first store read."""
        check_owner(identity, namespace, name)
        check_package_name(name)
        given_binding = _binding_form(identity, body.binding) if body.binding is not None else None
        parameters = key_values(body.parameters)
        annotations = key_values(body.annotations)
        check_sizes(self._parameters_bytes, parameters=parameters, annotations=annotations)
        try:
            old: Package | None = self._resolver.package(f"{namespace}/{name}")
        except NotFound:
            old = None
        if old is not None and not overwrite:
            raise Conflict("resource already exists")
        if body.binding is None:
            binding = old.binding if old else None
        else:
            binding = self._bindable(identity, given_binding) if given_binding is not None else None
        if old is not None and old.binding is None and binding is not None:
            raise Conflict(PACKAGE_TO_BINDING)
        if old is not None and old.binding is not None and binding is None:
            raise Conflict(BINDING_TO_PACKAGE)
        package = Package(
            namespace=namespace, name=name, binding=binding,
            version=body.version or (bump_patch(old.version) if old else "0.0.1"),
            publish=body.publish if body.publish is not None else (old.publish if old else False),
            parameters=parameters if parameters is not None else (old.parameters if old else []),
            annotations=annotations if annotations is not None else (old.annotations if old else []),
            updated=now_ms(), rev=old.rev if old else None,
        ).with_binding_annotation()
        rev = self._entities.put_entity(package.to_doc())
        return replace(package, rev=rev)

    def delete(self, identity: Identity, namespace: str, name: str, force: bool) -> Package:
        """Refuses a package that still holds actions unless ``force``, which deletes them first (409)."""
        check_owner(identity, namespace, name)
        package = self._resolver.package(f"{namespace}/{name}")
        if package.binding is None:
            contents = [d for d in self._entities.list_entities(package.doc_id, "action", 0, _ALL)
                        if d.get("namespace") == package.doc_id]
            if contents and not force:
                raise Conflict(not_empty(len(contents)))
            for doc in contents:
                self._entities.delete_entity(doc["_id"], doc["_rev"])
        assert package.rev is not None
        self._entities.delete_entity(package.doc_id, package.rev)
        return package

    def _bindable(self, identity: Identity, binding: Binding) -> Binding:
        """Check the package a binding refers to: readable, existing, a package, and not itself a binding."""
        if binding.namespace != identity.namespace:
            # Another namespace: its package must be public; missing and private look alike (403).
            target = self._resolver.readable_package(identity, binding.namespace, binding.name)
        else:
            try:
                target = self._resolver.package(binding.doc_id)
            except NotFound:
                raise Invalid(BINDING_MISSING) from None
            except Conflict:
                raise Conflict(BINDING_NOT_PACKAGE) from None
        if target.binding is not None:
            raise Invalid(BINDING_TO_BINDING)
        return binding


def _binding_form(identity: Identity, given: dict[str, object]) -> Binding | None:
    """The binding a request names (``_`` is the caller's namespace), or None for ``{}``; raises ``Invalid``."""
    raw = dict(given)
    if raw.get("namespace") == DEFAULT_NAMESPACE:
        raw["namespace"] = identity.namespace
    try:
        return Binding.from_doc(raw)
    except Invalid as e:
        raise Invalid(f"The request content was malformed:\nbinding: {e.message}") from e
