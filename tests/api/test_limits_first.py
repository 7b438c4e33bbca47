"""Finding: a sequence PUT naming 20,000 components made 20,000 store reads before its 400. Through the whole app
(auth, the entity cache, the services), a request its body alone refuses now reaches no entity in the store.

The store is the real ``SqliteStore`` behind a recording wrapper of OUR ``EntityStore`` port: the entity calls
are counted (the key check reads the subjects, which is not entity work and not counted).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.controller import create_app
from app.core.identities import WELL_KNOWN
from app.core.sequences import TOO_LONG
from app.core.services import IdentityService
from app.state.counters import MemoryCounters
from app.store import Store, open_store
from config import load_settings
from tests.api.conftest import BASE_OVERRIDES, NS, EchoDispatcher, check_contract

pytestmark = pytest.mark.api

_ENTITY_CALLS = frozenset({"get_entity", "put_entity", "delete_entity", "list_entities", "count_entities"})
GUEST = tuple(WELL_KNOWN["guest"].split(":", 1))


class CountingStore:
    """The real store, with every entity call counted."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self.entity_calls = 0

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if name not in _ENTITY_CALLS:
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.entity_calls += 1
            return found(*args, **kwargs)
        return counted


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[FlaskClient, CountingStore]]:
    settings = load_settings(environ={}, overrides={**BASE_OVERRIDES,
                                                    "store": {"kind": "sqlite", "path": str(tmp_path / "s.db")}})
    real = open_store(settings)
    IdentityService(real, cache_seconds=0).seed()
    store = CountingStore(real)
    dispatcher = EchoDispatcher(real)
    flask_app = create_app(settings, store=store, dispatcher=dispatcher, invokers=dispatcher,  # type: ignore[arg-type]
                           counter=MemoryCounters())
    yield flask_app.test_client(), store
    real.close()


def test_a_sequence_of_20000_components_is_refused_before_any_store_read(
        app: tuple[FlaskClient, CountingStore]) -> None:
    client, store = app
    components = [f"/guest/a{i}" for i in range(20_000)]
    response = client.put(f"{NS}/actions/s", json={"exec": {"kind": "sequence", "components": components}},
                          auth=GUEST)
    check_contract(response)
    assert response.status_code == 400
    assert response.get_json()["error"] == TOO_LONG
    assert store.entity_calls == 0


@pytest.mark.parametrize(("path", "body", "status"), [
    (f"{NS}/actions/a", {"exec": {"kind": "python:3", "code": "x"}, "limits": {"memory": 10**6}}, 400),
    (f"{NS}/actions/a", {"exec": {"kind": "python:3", "code": "x"},
                         "parameters": [{"key": "k", "value": "x" * 1_100_000}]}, 413),
    (f"{NS}/packages/p", {"binding": {"namespace": "guest", "name": "no/such"}}, 400),
    (f"{NS}/triggers/t", {"annotations": [{"key": "k", "value": "x" * 1_100_000}]}, 413),
    (f"{NS}/rules/r", {"trigger": "/guest/t", "action": "//"}, 400),
])
def test_a_put_its_body_refuses_reads_no_entity(app: tuple[FlaskClient, CountingStore], path: str,
                                                 body: dict[str, Any], status: int) -> None:
    client, store = app
    response = client.put(path, json=body, auth=GUEST)
    check_contract(response)
    assert response.status_code == status, response.get_json()
    assert store.entity_calls == 0


@pytest.mark.parametrize("collection", ["actions", "packages", "triggers", "rules", "activations"])
def test_a_skip_past_the_bound_is_400(app: tuple[FlaskClient, CountingStore], collection: str) -> None:
    client, store = app
    response = client.get(f"{NS}/{collection}", query_string={"skip": str(2**64)}, auth=GUEST)
    check_contract(response)
    assert response.status_code == 400
    assert store.entity_calls == 0
