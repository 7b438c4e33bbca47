"""Which code gets the caller's key (``app.core.credentials``): ``provide-api-key`` hands it only to code of the
invoking namespace, never to another namespace's public action (directly, through a binding, as a sequence
component); the feed protocol's ``authKey`` reaches feeds of ``whisk.system`` and of the caller's own namespace,
and is refused to (or, inside a composition, dropped for) anyone else's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.core.entities import ActivationMessage
from app.core.identities import WELL_KNOWN
from app.core.services.compositions import CompositionService, completed_event
from tests.api.conftest import Api, Auth, error, kv, ok

pytestmark = pytest.mark.api

KEYED = kv(**{"provide-api-key": True})
_SYSTEM_UUID, _, _SYSTEM_KEY = WELL_KNOWN["whisk.system"].partition(":")
SYSTEM: Auth = (_SYSTEM_UUID, _SYSTEM_KEY)


def key_of(auth: Auth) -> str:
    return f"{auth[0]}:{auth[1]}"


def url(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/actions/{name}"


def invoke(api: Api, namespace: str, name: str, payload: dict[str, Any] | None = None) -> ActivationMessage:
    """Invoke as ``api``'s own namespace; the message the controller published."""
    activation_id = ok(api.post(url(namespace, name), payload or {}), 202)["activationId"]
    return api.dispatcher.message(activation_id)


def published_package(api: Api, name: str, auth: Auth, *actions: tuple[str, dict[str, Any]]) -> None:
    """A published package of ``auth``'s namespace holding ``actions`` (name, extra fields)."""
    api.package(name, auth=auth, publish=True)
    for action, extra in actions:
        api.action(f"{name}/{action}", auth=auth, **extra)


class Results:
    """Our ``ResultSink`` port: what a composition hands to a waiting caller."""

    def __init__(self) -> None:
        self.stored: dict[str, dict[str, Any]] = {}

    def store_result(self, activation_id: str, activation: dict[str, Any]) -> None:
        self.stored[activation_id] = activation


def composition_messages(api: Api, sequence: str) -> list[ActivationMessage]:
    """Run ``sequence`` (of ``api.ns``) to its end as an invoker would; the component messages in order."""
    assert api.post(url("_", sequence), {}).status_code == 503  # this app starts no composition step itself
    step = next(s for s, key in api.dispatcher.steps if key == f"{api.ns}|{api.ns}/{sequence}")
    results = Results()
    service = CompositionService(api.store, api.store, api.dispatcher, results)
    seen = len(api.dispatcher.published)
    service.step(**step)
    sent: list[ActivationMessage] = []
    while len(api.dispatcher.published) > seen:
        message = api.dispatcher.published[seen]
        seen += 1
        sent.append(message)
        activation = api.dispatcher.peek(message.activation_id)
        assert activation is not None and message.continuation is not None
        service.step(**completed_event(message.continuation, activation))
    assert results.stored, "the sequence did not finish"
    return sent


# --- provide-api-key ------------------------------------------------------------------------------------------


def test_own_code_gets_the_key_directly_in_a_package_and_through_a_binding(api: Api) -> None:
    api.action("keyed", annotations=KEYED)
    api.package("mine")
    api.action("mine/keyed", annotations=KEYED)
    api.package("alias", binding={"namespace": "_", "name": "mine"})
    for name in ("keyed", "mine/keyed", "alias/keyed"):
        assert invoke(api, "_", name).api_key == key_of(api.auth), name


def test_another_namespaces_public_action_gets_no_key_directly_or_through_a_binding(api: Api) -> None:
    published_package(api, "pub", api.other, ("keyed", {"annotations": KEYED}))
    api.package("theirs", binding={"namespace": api.other_ns, "name": "pub"})
    direct = invoke(api, api.other_ns, "pub/keyed")
    bound = invoke(api, "_", "theirs/keyed")
    assert direct.api_key is None and bound.api_key is None
    assert bound.binding == f"{api.ns}/theirs" and bound.action == f"{api.other_ns}/pub/keyed"
    # Its owner invoking it still hands it the owner's own key.
    other = Api(api.platform, api.other_ns, api.other, api.ns, api.auth)
    assert invoke(other, "_", "pub/keyed").api_key == key_of(api.other)


def test_a_sequence_hands_the_key_to_its_own_components_only(api: Api) -> None:
    published_package(api, "pub", api.other, ("keyed", {"annotations": KEYED}))
    api.package("theirs", binding={"namespace": api.other_ns, "name": "pub"})
    api.action("mine", annotations=KEYED)
    components = [f"/{api.other_ns}/pub/keyed", "/_/theirs/keyed", "/_/mine"]
    ok(api.put(url("_", "s"), {"exec": {"kind": "sequence", "components": components}}))
    sent = composition_messages(api, "s")
    assert [m.action for m in sent] == [f"{api.other_ns}/pub/keyed", f"{api.other_ns}/pub/keyed", f"{api.ns}/mine"]
    assert [m.api_key for m in sent] == [None, None, key_of(api.auth)]


def test_a_rule_hands_the_firing_callers_key_to_its_own_code_only(api: Api) -> None:
    # OpenWhisk's rules invoke as the trigger's owner, with its key: a provide-api-key action of the namespace gets
    # it; another namespace's public action does not, and neither does one that did not ask.
    published_package(api, "pub", api.other, ("keyed", {"annotations": KEYED}))
    api.action("keyed", annotations=KEYED)
    api.action("plain")
    api.trigger("t")
    for rule, action in (("r1", "keyed"), ("r2", f"/{api.other_ns}/pub/keyed"), ("r3", "plain")):
        api.rule(rule, "t", action)
    fired = ok(api.post("/api/v1/namespaces/_/triggers/t", {"n": 1}), 202)["activationId"]
    record = ok(api.get(f"/api/v1/namespaces/_/activations/{fired}"))
    started = [json.loads(line)["activationId"] for line in record["logs"]]
    sent = {api.dispatcher.message(a).action: api.dispatcher.message(a).api_key for a in started}
    assert sent == {f"{api.ns}/keyed": key_of(api.auth), f"{api.other_ns}/pub/keyed": None, f"{api.ns}/plain": None}


def test_no_key_without_provide_api_key(api: Api) -> None:
    api.action("plain")
    published_package(api, "pub", api.other, ("plain", {}))
    assert invoke(api, "_", "plain").api_key is None
    assert invoke(api, api.other_ns, "pub/plain").api_key is None


# --- the feed protocol's authKey ------------------------------------------------------------------------------


def feed_event(api: Api) -> dict[str, Any]:
    return {"lifecycleEvent": "CREATE", "triggerName": f"/{api.ns}/t", "authKey": key_of(api.auth), "cron": "* * * * *"}


def test_a_system_feed_gets_the_authkey_directly_and_through_a_binding(api: Api) -> None:
    package = f"feeds_{api.ns}"  # whisk.system is shared by every test of the run
    published_package(api, package, SYSTEM, ("alarm", {"annotations": kv(feed=True)}))
    api.package("alarms", binding={"namespace": "whisk.system", "name": package})
    for namespace, name in (("whisk.system", f"{package}/alarm"), ("_", "alarms/alarm")):
        sent = invoke(api, namespace, name, feed_event(api))
        assert isinstance(sent.content, dict) and sent.content["authKey"] == key_of(api.auth), name
        assert sent.api_key is None  # the key travels as the feed's parameter only


def test_an_own_feed_gets_the_authkey(api: Api) -> None:
    api.action("feed", annotations=kv(feed=True))
    sent = invoke(api, "_", "feed", feed_event(api))
    assert isinstance(sent.content, dict) and sent.content["authKey"] == key_of(api.auth)


def test_another_namespaces_feed_is_refused_the_callers_key(api: Api) -> None:
    published_package(api, "pub", api.other, ("feed", {"annotations": kv(feed=True)}))
    api.package("theirs", binding={"namespace": api.other_ns, "name": "pub"})
    before = len(api.dispatcher.published)
    for namespace, name in ((api.other_ns, "pub/feed"), ("_", "theirs/feed")):
        message = error(api.post(url(namespace, name), feed_event(api)), 403)
        assert "may not be given your key ('authKey')" in message, message
    assert len(api.dispatcher.published) == before  # nothing ran
    # Any other authKey (a third party's, say) is the caller's business, not a credential of ours.
    sent = invoke(api, api.other_ns, "pub/feed", {"authKey": "some-service-token"})
    assert isinstance(sent.content, dict) and sent.content["authKey"] == "some-service-token"


def test_a_sequence_drops_the_callers_authkey_before_another_namespaces_component(api: Api) -> None:
    published_package(api, "pub", api.other, ("feed", {"parameters": [{"key": "authKey", "value": "theirs",
                                                                       "init": True}]}))
    ok(api.put(url("_", "s"), {"exec": {"kind": "sequence", "components": [f"/{api.other_ns}/pub/feed"]}}))
    # The sequence itself is the caller's, so the invoke is taken (503: this app runs no composition step itself);
    # its component of another namespace gets no key.
    assert api.post(url("_", "s"), feed_event(api)).status_code == 503
    step = next(s for s, key in api.dispatcher.steps if key == f"{api.ns}|{api.ns}/s")
    service = CompositionService(api.store, api.store, api.dispatcher, Results())
    seen = len(api.dispatcher.published)
    service.step(**step)
    sent = api.dispatcher.published[seen]
    assert isinstance(sent.content, dict) and "authKey" not in sent.content
    assert sent.init_args == {"authKey": "theirs"}  # its own init parameter stays as it was
