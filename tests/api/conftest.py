"""The API layer, fast: ``create_app`` on the sqlite store, driven through Flask's test client, with an in-process
implementation of OUR ``Dispatcher`` and ``InvokerMonitor`` ports instead of Celery, RabbitMQ and Docker.

``EchoDispatcher`` completes every published activation at once as an honest echo: the record's result is the
content the controller sent (the merged parameters), unless a test configures another ``Reply`` for the action.
Like an invoker, it releases each activation it completes from the activations in flight (``MemoryInFlight``).
Nothing here imitates CouchDB, RabbitMQ or Docker; the store is the real ``SqliteStore``.

Every response that goes through ``Api.request`` is held to the wire contract: an ``X-Request-ID`` header, never a
500 (but for a failed activation's answer, when a test expects one), and for every error the
``{"error": str, "code": str}`` envelope whose code is the request id.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.controller import create_app
from app.core.entities import Action, Activation, ActivationMessage, Status, now_ms
from app.core.errors import Unavailable
from app.core.identities import WELL_KNOWN
from app.core.invokers import InvokerStatus
from app.core.ports import NOT_SENT, Ahead
from app.core.services import IdentityService
from app.state.counters import MemoryCounters
from app.state.inflight import MemoryInFlight
from app.store import Store, open_store
from config import Settings, load_settings

Auth = tuple[str, str]


def _pair(credentials: str) -> Auth:
    uuid, _, key = credentials.partition(":")
    return uuid, key


GUEST: Auth = _pair(WELL_KNOWN["guest"])
NS = "/api/v1/namespaces/_"
CODE = "def main(args):\n    return args\n"


def kv(**values: Any) -> list[dict[str, Any]]:
    """OpenWhisk's key/value list: ``kv(a=1)`` is ``[{"key": "a", "value": 1}]``."""
    return [{"key": k, "value": v} for k, v in values.items()]


def next_ms() -> None:
    """Wait for the clock's next millisecond, so entities made one after the other differ in ``updated``."""
    start = now_ms()
    while now_ms() == start:
        time.sleep(0.0002)


def as_dict(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["key"]: item.get("value") for item in items}


# --- the dispatcher: our ports, in this process ----------------------------------------------------------------


class _Echo:
    def __repr__(self) -> str:
        return "ECHO"


ECHO: Any = _Echo()
"""``Reply.result`` default: the activation's result is the content the controller sent."""


@dataclass(frozen=True)
class Reply:
    """How the fake invoker answers an action's activations."""

    result: Any = ECHO
    status: Status = Status.SUCCESS
    logs: tuple[str, ...] = ()
    finishes: bool = True  # False: never finishes (a blocking caller gets 202)
    recorded: bool = True  # False: the result is handed back, but no record is stored (yet)


class EchoDispatcher:
    """Implements ``app.core.ports.Dispatcher`` (and ``InvokerMonitor``): records each message and completes it,
    building the activation record as an invoker does (``Activation.ended``) and storing it."""

    def __init__(self, store: Store, inflight: MemoryInFlight | None = None,
                 counter: MemoryCounters | None = None) -> None:
        self._store = store
        self.inflight = inflight or MemoryInFlight()  # the controller's count; released as activations finish
        self.counter = counter or MemoryCounters()  # the controller's throttle counts
        self.published: list[ActivationMessage] = []
        self.steps: list[tuple[dict[str, Any], str]] = []
        self.replies: dict[str, Reply] = {}  # by the action's doc id: "ns/name" or "ns/pkg/name"
        self.unavailable = False  # True: no invoker takes work (publish raises Unavailable)
        self._finished: dict[str, Activation] = {}
        self._last_start = 0
        self._lock = threading.Lock()

    # Dispatcher

    def publish(self, message: ActivationMessage, ahead: Ahead | None = None) -> None:
        if ahead is not None:
            ahead.then(NOT_SENT)
        if self.unavailable:
            raise Unavailable()
        with self._lock:
            self.published.append(message)
        reply = self.replies.get(message.action, Reply())
        if not reply.finishes:
            return
        activation = self._complete(message, reply)
        with self._lock:
            self._finished[message.activation_id] = activation
        if reply.recorded:
            self._store.put_activation(activation.to_doc())
        self.inflight.release(message.namespace, message.activation_id)

    def finish(self, message: ActivationMessage) -> None:
        """End an activation whose reply never finished, as its invoker would at its end (for tests)."""
        self.inflight.release(message.namespace, message.activation_id)

    def wait(self, activation_id: str, timeout_s: float) -> Activation | None:
        del timeout_s  # everything that finishes has finished by now
        with self._lock:
            return self._finished.get(activation_id)

    def peek(self, activation_id: str) -> Activation | None:
        with self._lock:
            return self._finished.get(activation_id)

    def publish_step(self, step: dict[str, Any], key: str) -> None:
        """Compositions run no step here: like a controller whose broker is down."""
        with self._lock:
            self.steps.append((step, key))
        raise Unavailable()

    # InvokerMonitor

    def invokers(self) -> list[InvokerStatus]:
        return [InvokerStatus(name="api-tests", healthy=True, queued=0)]

    # for tests

    def message(self, activation_id: str) -> ActivationMessage:
        """The message published for ``activation_id``."""
        found = [m for m in self.published if m.activation_id == activation_id]
        assert len(found) == 1, f"published {len(found)} messages for {activation_id}"
        return found[0]

    def _complete(self, message: ActivationMessage, reply: Reply) -> Activation:
        action = Action.from_doc(self._store.get_entity(message.action))
        with self._lock:
            start = max(now_ms(), self._last_start + 1)  # strictly increasing: newest first is well defined
            self._last_start = start
        annotations: list[dict[str, Any]] = [
            {"key": "path", "value": action.path.doc_id},
            {"key": "kind", "value": action.exec.kind},
            {"key": "limits", "value": action.limits.to_doc()},
        ]
        if message.binding:
            annotations.append({"key": "binding", "value": message.binding})
        return Activation.ended(
            namespace=message.namespace, name=action.path.name, version=action.version, subject=message.subject,
            activation_id=message.activation_id, start=start, end=start + 1, status=reply.status,
            result=message.content if reply.result is ECHO else reply.result, logs=list(reply.logs),
            annotations=annotations, cause=message.cause,
        )


# --- the app and a client that checks the wire contract on every answer ----------------------------------------


def check_contract(response: TestResponse, *, outcome_ok: bool = False) -> None:
    """What every answer of the API holds to (an error's message and status are each test's own).

    ``outcome_ok``: the answer may be a failed activation's (502, or 500 for the platform's own failure), which is
    the activation or its result, as OpenWhisk answers a blocking invoke, and not an error envelope."""
    assert response.headers.get("X-Request-ID"), "no X-Request-ID header"
    if outcome_ok and response.status_code in (500, 502):
        assert len(response.headers.get("x-openwhisk-activation-id", "")) == 32
        return
    assert response.status_code != 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.mimetype == "application/json", response.get_data(as_text=True)
        body = response.get_json()
        assert isinstance(body, dict) and set(body) == {"error", "code"}, body
        assert isinstance(body["error"], str) and body["error"], body
        assert isinstance(body["code"], str) and body["code"], body
        assert body["code"] == response.headers["X-Request-ID"], body


def error(response: TestResponse, status: int, message: str | None = None) -> str:
    """The error message of an answer that must be ``status`` (and exactly ``message`` when given)."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    check_contract(response)
    found: str = response.get_json()["error"]
    if message is not None:
        assert found == message
    return found


def ok(response: TestResponse, status: int = 200) -> Any:
    """The JSON body of an answer that must be ``status``."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    return response.get_json()


NO_AUTH: Auth = ("", "")
"""``auth=NO_AUTH``: send no credentials at all."""


@dataclass
class Platform:
    """One controller app over its own sqlite file and dispatcher."""

    app: Flask
    client: FlaskClient
    settings: Settings
    store: Store
    dispatcher: EchoDispatcher
    identities: IdentityService
    _users: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def build(cls, path: Path, sections: dict[str, dict[str, Any]],
              dispatcher_class: Callable[[Store], EchoDispatcher] | None = None) -> Platform:
        overrides = {name: dict(values) for name, values in BASE_OVERRIDES.items()}
        for name, values in sections.items():
            overrides.setdefault(name, {}).update(values)
        overrides["store"] = {"kind": "sqlite", "path": str(path)}
        settings = load_settings(environ={}, overrides=overrides)
        store = open_store(settings)
        identities = IdentityService(store, cache_seconds=0)
        identities.seed()  # guest and whisk.system with OpenWhisk's well-known keys
        dispatcher = (dispatcher_class or EchoDispatcher)(store)
        app = create_app(settings, store=store, dispatcher=dispatcher, invokers=dispatcher,
                         counter=dispatcher.counter, inflight=dispatcher.inflight)
        return cls(app, app.test_client(), settings, store, dispatcher, identities)

    def user(self, prefix: str) -> tuple[str, Auth]:
        """A new subject owning a new namespace, and its key."""
        namespace = f"{prefix}{next(self._users)}"
        return namespace, _pair(self.identities.create(namespace))

    def close(self) -> None:
        owned: Store = self.app.extensions["squall_store"]
        assert owned is self.store
        owned.close()


@dataclass
class Api:
    """A test's view of a platform: its own namespace ``ns`` (key ``auth``) and another one, ``other_ns``
    (key ``other``), both new, so tests sharing one app share no entity, activation, limit or throttle."""

    platform: Platform
    ns: str
    auth: Auth
    other_ns: str
    other: Auth

    @property
    def settings(self) -> Settings:
        return self.platform.settings

    @property
    def store(self) -> Store:
        return self.platform.store

    @property
    def dispatcher(self) -> EchoDispatcher:
        return self.platform.dispatcher

    @property
    def identities(self) -> IdentityService:
        return self.platform.identities

    def request(self, method: str, path: str, *, auth: Auth | None = None, json: Any = None,
                data: bytes | str | None = None, query: dict[str, Any] | None = None,
                headers: dict[str, str] | None = None, outcome_ok: bool = False) -> TestResponse:
        """One request as ``auth`` (default: this test's own key; ``NO_AUTH``: none); ``json`` is sent as a JSON
        body, ``data`` as it is (as application/json)."""
        kwargs: dict[str, Any] = {"method": method, "query_string": query, "headers": headers or {}}
        if auth is None:
            kwargs["auth"] = self.auth
        elif auth != NO_AUTH:
            kwargs["auth"] = auth
        if json is not None:
            kwargs["json"] = json
        elif data is not None:
            kwargs["data"] = data
            kwargs["content_type"] = "application/json"
        response = self.platform.client.open(path, **kwargs)
        check_contract(response, outcome_ok=outcome_ok)
        return response

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> TestResponse:
        return self.request("PUT", path, json=json, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, **kwargs)

    # entities, each answered 200 or the test fails here

    def action(self, name: str, code: str = CODE, kind: str = "python:3", auth: Auth | None = None,
               **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = ok(self.put(f"{NS}/actions/{name}", {"exec": {"kind": kind, "code": code}, **extra},
                                           auth=auth))
        return body

    def package(self, name: str, auth: Auth | None = None, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = ok(self.put(f"{NS}/packages/{name}", extra, auth=auth))
        return body

    def trigger(self, name: str, auth: Auth | None = None, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = ok(self.put(f"{NS}/triggers/{name}", extra, auth=auth))
        return body

    def rule(self, name: str, trigger: str, action: str, auth: Auth | None = None) -> dict[str, Any]:
        body: dict[str, Any] = ok(self.put(f"{NS}/rules/{name}", {"trigger": trigger, "action": action}, auth=auth))
        return body


def _view(platform: Platform) -> Api:
    ns, auth = platform.user("u")
    other_ns, other = platform.user("o")
    return Api(platform, ns, auth, other_ns, other)


BASE_OVERRIDES: dict[str, dict[str, Any]] = {
    # A blocked key or a limit override counts at once; every test fails authentication from one address on
    # purpose (the failed-authentication throttle has its own tests).
    "controller": {"identity_cache_seconds": 0.0, "auth_failures_per_minute": 1_000_000},
    "broker": {"result_backend": "cache+memory://"},  # no Redis behind the shared state either
}

MakeApi = Callable[..., Api]


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The app with the default settings, shared by the whole run (building one costs tens of milliseconds):
    each test works in namespaces of its own."""
    built = Platform.build(tmp_path_factory.mktemp("api") / "squall.db", {})
    yield built
    built.close()


@pytest.fixture
def api(platform: Platform) -> Iterator[Api]:
    view = _view(platform)
    yield view
    platform.dispatcher.unavailable = False


@pytest.fixture
def make_api(tmp_path: Path) -> Iterator[MakeApi]:
    """``make_api(limits={"payload_bytes": 100}, ...)``: a fresh app on its own sqlite file, with settings sections
    given as overrides over the defaults (the environment is not read)."""
    made: list[Platform] = []

    def build(dispatcher_class: Callable[[Store], EchoDispatcher] | None = None, **sections: dict[str, Any]) -> Api:
        built = Platform.build(tmp_path / f"squall{len(made)}.db", sections, dispatcher_class)
        made.append(built)
        return _view(built)

    yield build
    for built in made:
        built.close()
