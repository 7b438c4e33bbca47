"""Read rights on packages and bindings (OpenWhisk ``PackageCollection``) and what an action inherits."""

from __future__ import annotations

import pytest

from app.core.entities import Action, Exec
from app.core.errors import Conflict, Forbidden, Invalid, NotFound
from app.core.identities import Identity
from app.core.limits import ActionLimits
from app.core.names import EntityPath
from app.core.packages import Binding, Package
from app.core.services.resolution import Resolver
from tests.fakes import DictEntityStore

pytestmark = pytest.mark.unit

GUEST = Identity("guest", "guest", "u1", "h")
OTHER = Identity("other", "other", "u2", "h")


def kv(**values: object) -> list[dict[str, object]]:
    return [{"key": k, "value": v} for k, v in values.items()]


@pytest.fixture
def resolver() -> Resolver:
    store = DictEntityStore()
    for package in (
        Package("guest", "public", publish=True, parameters=kv(p="public", b="public")),
        Package("guest", "private", parameters=kv(p="private")),
        Package("guest", "pubbind", Binding("guest", "public"), publish=True),
        Package("other", "mine", Binding("guest", "public"), parameters=kv(b="binding")),
        Package("other", "tosecret", Binding("guest", "private")),
    ):
        store.docs[package.doc_id] = {**package.to_doc(), "_rev": "1-a"}
    for path in (EntityPath("guest", "echo", "public"), EntityPath("guest", "echo", "private"),
                 EntityPath("guest", "plain")):
        store.put_action(Action(path, Exec("python:3", "x"), ActionLimits(1, 1, 1, 1), parameters=kv(a="action")))
    return Resolver(store)


def test_owner_reads_everything_of_its_own(resolver: Resolver) -> None:
    assert resolver.readable_package(GUEST, "guest", "private").name == "private"
    assert resolver.readable_package(GUEST, "guest", "pubbind").binding == Binding("guest", "public")
    with pytest.raises(NotFound):
        resolver.readable_package(GUEST, "guest", "missing")
    with pytest.raises(Conflict):
        resolver.readable_package(GUEST, "guest", "plain")  # an action, not a package


@pytest.mark.parametrize("name", ["private", "missing", "pubbind", "plain"])
def test_others_get_403_for_private_missing_bindings_and_non_packages(resolver: Resolver, name: str) -> None:
    with pytest.raises(Forbidden, match=f"not authorized to access 'guest/{name}'"):
        resolver.readable_package(OTHER, "guest", name)


def test_others_read_and_resolve_public_packages(resolver: Resolver) -> None:
    assert resolver.readable_package(OTHER, "guest", "public").publish
    resolved = resolver.resolve_action(OTHER, EntityPath("guest", "echo", "public"))
    assert resolved.binding is None and resolved.parameters({"x": 1}) == {"p": "public", "b": "public",
                                                                          "a": "action", "x": 1}
    with pytest.raises(Forbidden):
        resolver.resolve_action(OTHER, EntityPath("guest", "plain"))


def test_a_binding_resolves_to_the_bound_action_with_binding_parameters_between(resolver: Resolver) -> None:
    resolved = resolver.resolve_action(OTHER, EntityPath("other", "echo", "mine"))
    assert resolved.action.path == EntityPath("guest", "echo", "public")
    assert resolved.binding == "other/mine"
    assert resolved.parameters() == {"p": "public", "b": "binding", "a": "action"}


def test_a_binding_to_a_package_that_turned_private_is_refused(resolver: Resolver) -> None:
    with pytest.raises(Forbidden):
        resolver.resolve_action(OTHER, EntityPath("other", "echo", "tosecret"))


def test_writes_go_to_own_real_packages_only(resolver: Resolver) -> None:
    resolver.writable_package(GUEST, EntityPath("guest", "x", "private"))
    with pytest.raises(Forbidden):
        resolver.writable_package(OTHER, EntityPath("guest", "x", "public"))
    with pytest.raises(Invalid, match="Operation not permitted on package binding."):
        resolver.writable_package(GUEST, EntityPath("guest", "x", "pubbind"))
    with pytest.raises(NotFound):
        resolver.writable_package(GUEST, EntityPath("guest", "x", "missing"))
