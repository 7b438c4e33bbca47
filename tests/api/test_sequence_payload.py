"""What a sequence's first component gets (issue 15, item 2): the request payload alone, as OpenWhisk's
``PrimitiveActions.invokeAction`` hands ``invokeSequence`` the payload and nothing of the sequence itself. A sequence
stores its components as parameter ``_actions``; that, its package's and its binding's parameters never reach a
component, while each component's own parameters (and its package's) do.

The composition steps run in this process (``ComposingDispatcher``), where an invoker would run them, so a
blocking invoke of a sequence is answered through the wire as it is on the real stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.controller import create_app
from app.core.entities import Activation, ActivationMessage
from app.core.ports import Ahead
from app.core.services import IdentityService
from app.core.services.compositions import CompositionService, completed_event
from app.state.counters import MemoryCounters
from app.store import Store, open_store
from config import load_settings
from tests.api.conftest import BASE_OVERRIDES, NS, Api, EchoDispatcher, Platform, kv, ok

pytestmark = pytest.mark.api


class ComposingDispatcher(EchoDispatcher):
    """``EchoDispatcher`` that also carries compositions: the start step when the controller publishes it, the
    next step as soon as a component finishes; a finished composition's result goes where ``wait`` finds it
    (it is the ``ResultSink`` too)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.compositions = CompositionService(store, store, self, self)

    def publish_step(self, step: dict[str, Any], key: str) -> None:
        with self._lock:
            self.steps.append((step, key))
        self.compositions.step(**step)

    def publish(self, message: ActivationMessage, ahead: Ahead | None = None) -> None:
        super().publish(message, ahead)
        finished = self.peek(message.activation_id)
        if message.continuation is not None and finished is not None:
            self.compositions.step(**completed_event(message.continuation, finished))

    def store_result(self, activation_id: str, activation: dict[str, Any]) -> None:
        with self._lock:
            self._finished[activation_id] = Activation.from_doc(activation)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    overrides = {**BASE_OVERRIDES, "store": {"kind": "sqlite", "path": str(tmp_path / "squall.db")}}
    settings = load_settings(environ={}, overrides=overrides)
    store = open_store(settings)
    identities = IdentityService(store, cache_seconds=0)
    identities.seed()
    dispatcher = ComposingDispatcher(store)
    app = create_app(settings, store=store, dispatcher=dispatcher, invokers=dispatcher, counter=MemoryCounters())
    platform = Platform(app, app.test_client(), settings, store, dispatcher, identities)
    yield Api(platform, *platform.user("u"), *platform.user("o"))
    platform.close()


def sequence(api: Api, name: str, *components: str, **extra: Any) -> None:
    ok(api.put(f"{NS}/actions/{name}", {"exec": {"kind": "sequence", "components": list(components)}, **extra}))


def run(api: Api, name: str, payload: dict[str, Any]) -> tuple[Any, list[ActivationMessage]]:
    """Invoke ``name`` blocking for its result; the result and the component messages published for it."""
    seen = len(api.dispatcher.published)
    result = ok(api.post(f"{NS}/actions/{name}", payload, query={"blocking": "true", "result": "true"}))
    return result, api.dispatcher.published[seen:]


def test_the_first_component_gets_the_request_payload_only(api: Api) -> None:
    api.action("echo")
    sequence(api, "s", "/_/echo")
    result, (first,) = run(api, "s", {"a": 1})
    assert first.content == {"a": 1}  # no "_actions"
    assert result == {"a": 1}  # what `wsk action invoke s -p a 1 --result` shows on OpenWhisk


def test_an_empty_invoke_gives_the_first_component_nothing(api: Api) -> None:
    api.action("echo")
    sequence(api, "s", "/_/echo", "/_/echo")
    result, messages = run(api, "s", {})
    assert [m.content for m in messages] == [{}, {}]
    assert result == {}


def test_the_sequences_package_and_binding_parameters_do_not_reach_its_components(api: Api) -> None:
    api.action("echo")
    api.package("seqs", parameters=kv(pkg=1))
    api.package("alias", binding={"namespace": "_", "name": "seqs"}, parameters=kv(bound=2))
    sequence(api, "seqs/s", "/_/echo")
    for name in ("seqs/s", "alias/s"):
        result, (first,) = run(api, name, {"a": 1})
        assert first.content == {"a": 1}, name
        assert result == {"a": 1}, name


def test_each_component_still_gets_its_own_and_its_packages_parameters(api: Api) -> None:
    api.package("tools", parameters=kv(tool=1))
    api.action("tools/first", parameters=kv(own=2))
    api.action("second", parameters=kv(own=3, extra=4))
    sequence(api, "s", "/_/tools/first", "/_/second")
    result, (first, second) = run(api, "s", {"a": 1, "own": 0})
    assert first.content == {"tool": 1, "own": 0, "a": 1}  # the payload over the component's parameters
    assert second.content == {"own": 0, "extra": 4, "tool": 1, "a": 1}  # the previous result over them
    assert result == second.content
