"""A finished activation read before its record landed (issue 15, item 3): ``GET /activations/{id}``, ``/logs`` and
``/result`` wait a bounded time (``controller.record_wait_s``) for the stored record, logs included, instead of
answering the result backend's early copy, which has none yet. A script doing ``wsk action invoke --blocking`` then
``wsk activation logs <id>`` sees the logs.

``LateRecords`` is an invoker as the real one behaves: the result (without logs) is handed back at once, the record
lands a moment later, here right after the controller first found it missing, so no test depends on timing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from app.controller import create_app
from app.core.entities import Activation, ActivationMessage
from app.core.ports import Ahead
from app.core.services import IdentityService
from app.state.counters import MemoryCounters
from app.store import Store, open_store
from config import load_settings
from tests.api.conftest import BASE_OVERRIDES, NS, Api, EchoDispatcher, Platform, Reply, error, ok

pytestmark = pytest.mark.api

ACTIVATIONS = f"{NS}/activations"
LOGS = ("2024-01-01T00:00:00.000000000Z  stdout: hello log",)


class LateRecords(EchoDispatcher):
    """Hands back each result without logs, as the result backend has it, and holds the record (with its logs)
    until the controller first looks for the activation and finds no record (``peek``); it stores it then, unless
    ``never`` holds: then the record never lands."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.held: dict[str, Activation] = {}
        self.never = False

    def publish(self, message: ActivationMessage, ahead: Ahead | None = None) -> None:
        self.replies.setdefault(message.action, Reply(logs=LOGS, recorded=False))
        super().publish(message, ahead)
        with self._lock:
            record = self._finished.get(message.activation_id)
            if record is not None:
                self.held[message.activation_id] = record
                self._finished[message.activation_id] = replace(record, logs=[])  # the early copy

    def peek(self, activation_id: str) -> Activation | None:
        early = super().peek(activation_id)
        with self._lock:
            record = None if self.never else self.held.pop(activation_id, None)
        if record is not None:
            self._store.put_activation(record.to_doc())  # lands just after the controller's read missed it
        return early


LateApi = Callable[..., Api]


@pytest.fixture
def late_api(tmp_path: Path) -> Iterator[LateApi]:
    """``late_api(lands=True, record_wait_s=...)``: an app on its own sqlite file whose dispatcher is
    ``LateRecords`` (``lands=False``: whose records never land), with these controller settings."""
    made: list[Platform] = []

    def build(lands: bool = True, **controller: Any) -> Api:
        overrides = {**BASE_OVERRIDES, "store": {"kind": "sqlite", "path": str(tmp_path / f"s{len(made)}.db")},
                     "controller": {**BASE_OVERRIDES["controller"], **controller}}
        settings = load_settings(environ={}, overrides=overrides)
        store = open_store(settings)
        identities = IdentityService(store, cache_seconds=0)
        identities.seed()
        dispatcher = LateRecords(store)
        dispatcher.never = not lands
        app = create_app(settings, store=store, dispatcher=dispatcher, invokers=dispatcher,
                         counter=MemoryCounters())
        platform = Platform(app, app.test_client(), settings, store, dispatcher, identities)
        made.append(platform)
        return Api(platform, *platform.user("u"), *platform.user("o"))

    yield build
    for platform in made:
        platform.close()


def blocking(api: Api, name: str) -> dict[str, Any]:
    answer: dict[str, Any] = ok(api.post(f"{NS}/actions/{name}", {}, query={"blocking": "true"}))
    assert answer["logs"] == []  # the blocking answer itself is the early copy, as OpenWhisk's
    return answer


@pytest.mark.parametrize("suffix", ["/logs", ""])
def test_a_read_right_after_a_blocking_invoke_waits_for_the_record(late_api: LateApi, suffix: str) -> None:
    api = late_api()
    api.action("a")
    activation_id = blocking(api, "a")["activationId"]
    assert ok(api.get(f"{ACTIVATIONS}/{activation_id}{suffix}"))["logs"] == list(LOGS)


def test_a_read_as_soon_as_a_non_blocking_invoke_finished_waits_for_the_record(late_api: LateApi) -> None:
    api = late_api()
    api.action("a")
    activation_id = ok(api.post(f"{NS}/actions/a", {}), 202)["activationId"]
    assert ok(api.get(f"{ACTIVATIONS}/{activation_id}/logs")) == {"logs": list(LOGS)}


def test_the_wait_is_bounded_by_the_setting_and_only_for_a_finished_activation_of_the_namespace(
        late_api: LateApi) -> None:
    api = late_api(lands=False, record_wait_s=0.2)
    api.action("a")
    activation_id = blocking(api, "a")["activationId"]
    for suffix, early in (("/logs", {"logs": []}), ("/result", {"status": "success", "success": True, "result": {},
                                                                "size": 2})):
        began = time.monotonic()
        assert ok(api.get(f"{ACTIVATIONS}/{activation_id}{suffix}")) == early
        assert time.monotonic() - began >= 0.2, suffix  # it waited the bound for the record, then answered this

    # Neither an unknown id nor another namespace's activation is about to be recorded here: 404 at once.
    api = late_api(lands=False, record_wait_s=30.0)
    api.action("a")
    activation_id = blocking(api, "a")["activationId"]
    began = time.monotonic()
    assert error(api.get(f"{ACTIVATIONS}/{'f' * 32}/logs"), 404) == "The requested resource does not exist."
    assert error(api.get(f"{ACTIVATIONS}/{activation_id}", auth=api.other), 404) == \
        "The requested resource does not exist."
    assert time.monotonic() - began < 10.0

    # 0 turns the wait off: the early copy at once, the record once it has landed.
    api = late_api(record_wait_s=0.0)
    api.action("a")
    activation_id = blocking(api, "a")["activationId"]
    assert ok(api.get(f"{ACTIVATIONS}/{activation_id}/logs")) == {"logs": []}
    assert ok(api.get(f"{ACTIVATIONS}/{activation_id}/logs")) == {"logs": list(LOGS)}
