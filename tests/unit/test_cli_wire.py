"""What the client verbs send, as wsk sends it: qualified names, sequence components, bindings, and the order of
calls of a feed trigger's lifecycle (against an ``httpx.MockTransport`` that answers like the controller)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
import httpx
import pytest

from app.cli import packages, triggers, verbs
from app.cli.client import ApiClient, ClientError
from app.cli.verbkit import namespace_argument, qualify

pytestmark = pytest.mark.unit

AUTH = "uuid:key"
Calls = list[tuple[str, str, Any]]


def api(answer: Callable[[httpx.Request], httpx.Response]) -> tuple[ApiClient, Calls]:
    calls: Calls = []

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        calls.append((request.method, f"{request.url.path}?{request.url.query.decode()}".rstrip("?"), body))
        return answer(request)
    return ApiClient("http://controller", AUTH, transport=httpx.MockTransport(handle)), calls


def test_names_are_qualified_like_wsk() -> None:
    assert qualify("a") == "/_/a"
    assert qualify("pkg/a") == "/_/pkg/a"
    assert qualify("/ns/pkg/a") == "/ns/pkg/a"
    assert namespace_argument(None) == "_" and namespace_argument("/whisk.system") == "whisk.system"
    with pytest.raises(click.UsageError):
        namespace_argument("/ns/pkg")


def test_sequence_body_and_update_without_code() -> None:
    body = verbs._action_body(None, None, None, [], None, None, sequence="a, pkg/b,/ns/c")
    assert body == {"exec": {"kind": "sequence", "components": ["/_/a", "/_/pkg/b", "/ns/c"]}}
    with pytest.raises(click.UsageError):
        verbs._action_body(None, "python:3", None, [], None, None, sequence="a")
    with pytest.raises(click.UsageError):
        verbs._action_body(None, None, None, [], None, None, sequence="a,,b")
    assert verbs._action_body(None, None, None, [("k", "1")], 256, None, update=True) == {
        "parameters": [{"key": "k", "value": 1}], "limits": {"memory": 256}}
    with pytest.raises(click.UsageError):
        verbs._action_body(None, None, None, [("k", "1")], None, None)  # create needs code


def test_kinds_are_inferred_from_the_extension_as_wsk_does(tmp_path: Any) -> None:
    for name, kind in (("a.go", "go:default"), ("a.rb", "ruby:default"), ("a.php", "php:default"),
                       ("a.rs", "rust:default"), ("a.py", "python:default"), ("a.js", "nodejs:default")):
        path = tmp_path / name
        path.write_text("code")
        assert verbs._action_body(path, None, None, [], None, None)["exec"] == {"kind": kind, "code": "code"}
    jar = tmp_path / "a.jar"
    jar.write_bytes(b"PK\x03\x04jar")
    assert verbs._action_body(jar, None, "Hello", [], None, None)["exec"] == {
        "kind": "java:default", "code": "UEsDBGphcg==", "main": "Hello"}
    source = tmp_path / "Hello.java"
    source.write_text("class Hello {}")
    with pytest.raises(click.UsageError, match="Java actions are jars"):
        verbs._action_body(source, None, None, [], None, None)


def test_binding_source() -> None:
    assert packages._binding_of("/whisk.system/utils") == {"namespace": "whisk.system", "name": "utils"}
    assert packages._binding_of("mine") == {"namespace": "_", "name": "mine"}
    with pytest.raises(click.UsageError):
        packages._binding_of("/whisk.system/utils/echo")


def test_paths_of_package_listing_fire_and_rule_state() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/triggers/quiet"):
            return httpx.Response(204)
        if "/rules/" in request.url.path:
            return httpx.Response(200, text="OK")
        if "/triggers/" in request.url.path:
            return httpx.Response(202, json={"activationId": "a" * 32})
        return httpx.Response(200, json=[])

    client, calls = api(answer)
    client.list_package_actions("/guest/tools")
    assert client.fire_trigger("quiet") is None
    assert client.fire_trigger("loud", {"n": 1}) == "a" * 32
    client.set_rule_state("r", "inactive")
    assert calls == [
        ("GET", "/api/v1/namespaces/guest/actions/tools/?limit=30&skip=0", None),
        ("POST", "/api/v1/namespaces/_/triggers/quiet", {}),
        ("POST", "/api/v1/namespaces/_/triggers/loud", {"n": 1}),
        ("POST", "/api/v1/namespaces/_/rules/r", {"status": "inactive", "trigger": None, "action": None}),
    ]


def _feed_answer(feed_ok: bool) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return httpx.Response(200, json={"namespace": "guest", "name": "t", **json.loads(request.content)})
        if request.method == "POST" and feed_ok:
            return httpx.Response(200, json={"activationId": "f" * 32, "response": {"success": True}})
        if request.method == "POST":
            return httpx.Response(502, json={"activationId": "f" * 32, "response": {
                "status": "application error", "success": False, "result": {"error": "minutes must be > 0"}}})
        return httpx.Response(200, json={"namespace": "guest", "name": "t"})
    return answer


def test_feed_trigger_create_puts_then_invokes_the_feed_blocking() -> None:
    client, calls = api(_feed_answer(feed_ok=True))
    triggers._create(client, "t", [("minutes", "5")], [], "/whisk.system/alarms/interval")
    assert calls == [
        ("PUT", "/api/v1/namespaces/_/triggers/t?overwrite=false",
         {"annotations": [{"key": "feed", "value": "/whisk.system/alarms/interval"}]}),  # -p goes to the feed
        ("POST", "/api/v1/namespaces/whisk.system/actions/alarms/interval?blocking=true&result=false",
         {"minutes": 5, "lifecycleEvent": "CREATE", "triggerName": "/guest/t", "authKey": AUTH}),
    ]


def test_a_failed_feed_deletes_the_trigger_and_says_why() -> None:
    client, calls = api(_feed_answer(feed_ok=False))
    with pytest.raises(ClientError) as failed:
        triggers._create(client, "t", [("minutes", "0")], [], "alarms/interval")
    assert failed.value.message == (
        "Unable to create trigger 't': Unable to configure feed '/_/alarms/interval': "
        f"The activation {'f' * 32} ended with application error: minutes must be > 0")
    assert [(method, path) for method, path, _ in calls] == [
        ("PUT", "/api/v1/namespaces/_/triggers/t?overwrite=false"),
        ("POST", "/api/v1/namespaces/_/actions/alarms/interval?blocking=true&result=false"),
        ("DELETE", "/api/v1/namespaces/_/triggers/t"),
    ]
