"""``POST /namespaces/{ns}/actions/{name}``: blocking (200 and the activation), non-blocking (202 and its id),
``result=true``, the outcome's status codes, and what the controller hands the invoker (merged parameters, init
arguments, the caller's key), which the in-process dispatcher echoes back."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.entities import Status
from tests.api.conftest import NS, Api, MakeApi, Reply, error, kv, ok

pytestmark = pytest.mark.api

ACTIONS = f"{NS}/actions"


def invoke(api: Api, name: str, payload: Any = None, outcome_ok: bool = False, **query: str) -> Any:
    return api.post(f"{ACTIONS}/{name}", {} if payload is None else payload, query=query, outcome_ok=outcome_ok)


def test_blocking_answers_200_with_the_activation(api: Api) -> None:
    api.action("echo", parameters=kv(a="action", b="action"))
    response = invoke(api, "echo", {"b": "payload", "c": 1}, blocking="true")
    activation = ok(response)
    assert response.headers["x-openwhisk-activation-id"] == activation["activationId"]
    assert set(activation) == {"namespace", "name", "version", "subject", "activationId", "start", "end", "duration",
                               "logs", "annotations", "publish", "response"}
    assert activation["namespace"] == api.ns and activation["name"] == "echo" and activation["subject"] == api.ns
    assert activation["version"] == "0.0.1" and activation["publish"] is False
    assert activation["duration"] == activation["end"] - activation["start"]
    assert activation["response"] == {"status": "success", "success": True,
                                      "result": {"a": "action", "b": "payload", "c": 1}, "size": 34}
    assert {a["key"]: a["value"] for a in activation["annotations"]}["path"] == f"{api.ns}/echo"
    message = api.dispatcher.message(activation["activationId"])
    assert message.blocking is True and message.action == f"{api.ns}/echo" and message.namespace == api.ns
    assert message.transaction_id == response.headers["X-Request-ID"]


def test_blocking_with_result_answers_the_result_only(api: Api) -> None:
    api.action("echo")
    response = invoke(api, "echo", {"x": 1}, blocking="true", result="true")
    assert ok(response) == {"x": 1}
    assert len(response.headers["x-openwhisk-activation-id"]) == 32


def test_non_blocking_answers_202_with_the_id(api: Api) -> None:
    api.action("echo")
    response = invoke(api, "echo", {"x": 1})
    body = ok(response, 202)
    assert set(body) == {"activationId"} and len(body["activationId"]) == 32
    assert response.headers["x-openwhisk-activation-id"] == body["activationId"]
    message = api.dispatcher.message(body["activationId"])
    assert message.blocking is False and message.content == {"x": 1}
    assert ok(invoke(api, "echo", {"x": 1}, blocking="false", result="true"), 202).keys() == {"activationId"}


def test_blocking_past_its_wait_answers_202(api: Api) -> None:
    api.action("slow")
    api.dispatcher.replies[f"{api.ns}/slow"] = Reply(finishes=False)
    response = invoke(api, "slow", blocking="true", timeout="100")
    assert ok(response, 202) == {"activationId": response.headers["x-openwhisk-activation-id"]}


@pytest.mark.parametrize(("status", "code"), [
    (Status.APPLICATION_ERROR, 502),
    (Status.DEVELOPER_ERROR, 502),
    (Status.WHISK_ERROR, 500),  # OpenWhisk's answer for the platform's own failure: the activation, not an envelope
])
def test_a_failed_activation_answers_its_status(api: Api, status: Status, code: int) -> None:
    api.action("fails")
    api.dispatcher.replies[f"{api.ns}/fails"] = Reply(result={"error": "boom"}, status=status)
    response = invoke(api, "fails", blocking="true", outcome_ok=True)
    assert response.status_code == code
    activation = response.get_json()
    assert activation["response"] == {"status": status.label, "success": False, "result": {"error": "boom"},
                                      "size": 16}
    result_only = invoke(api, "fails", blocking="true", result="true", outcome_ok=True)
    assert result_only.status_code == code and result_only.get_json() == {"error": "boom"}


def test_an_array_result_is_answered_bare(api: Api) -> None:
    api.action("arr")
    api.dispatcher.replies[f"{api.ns}/arr"] = Reply(result=[1, 2, 3])
    assert ok(invoke(api, "arr", blocking="true")) == [1, 2, 3]
    assert ok(invoke(api, "arr", blocking="true", result="true")) == [1, 2, 3]


@pytest.mark.parametrize("timeout", ["abc", "0", "-5", "60001", "1.5", ""])
def test_a_bad_timeout_is_400(api: Api, timeout: str) -> None:
    api.action("echo")
    response = invoke(api, "echo", blocking="true", timeout=timeout)
    assert error(response, 400) == "Timeout must be number of milliseconds up to 60000."
    assert not [m for m in api.dispatcher.published if m.namespace == api.ns]  # nothing was invoked


def test_the_longest_wait_is_the_settings(make_api: MakeApi) -> None:
    api = make_api(controller={"blocking_timeout_ms": 1000})
    api.action("echo")
    assert ok(invoke(api, "echo", blocking="true", timeout="1000"))["response"]["success"] is True
    assert error(invoke(api, "echo", blocking="true", timeout="1001"), 400) == \
        "Timeout must be number of milliseconds up to 1000."


@pytest.mark.parametrize(("body", "message"), [
    (b"[1, 2]", "The request content was malformed:\nthe payload must be a JSON object"),
    (b'"text"', "The request content was malformed:\nthe payload must be a JSON object"),
    (b"null", "The request content was malformed:\nthe payload must be a JSON object"),
    (b"{not json", "The request content was malformed:\n"),
    (b"\xff\xfe", "The request content was malformed:\n"),
])
def test_a_payload_that_is_not_a_json_object_is_400(api: Api, body: bytes, message: str) -> None:
    api.action("echo")
    assert error(api.post(f"{ACTIONS}/echo", data=body), 400).startswith(message)


def test_an_empty_body_is_an_empty_payload(api: Api) -> None:
    api.action("echo", parameters=kv(p=1))
    assert ok(api.post(f"{ACTIONS}/echo", data=b"", query={"blocking": "true", "result": "true"})) == {"p": 1}


def test_payload_over_the_limit_is_413(make_api: MakeApi) -> None:
    api = make_api(limits={"payload_bytes": 100})
    api.action("echo")
    fits = '{"x": "' + "y" * 91 + '"}'
    assert len(fits) == 100
    assert ok(api.post(f"{ACTIONS}/echo", data=fits), 202)
    over = '{"x": "' + "y" * 92 + '"}'
    assert error(api.post(f"{ACTIONS}/echo", data=over), 413) == "Request larger than allowed: 101 > 100 bytes."


def test_missing_and_forbidden_actions(api: Api) -> None:
    assert error(invoke(api, "missing"), 404) == "The requested resource does not exist."
    api.action("mine")
    response = api.post(f"/api/v1/namespaces/{api.ns}/actions/mine", {}, auth=api.other)
    assert error(response, 403) == f"The supplied authentication is not authorized to access '{api.ns}/mine'."
    api.trigger("t")
    assert error(invoke(api, "t"), 409) == "Resource by this name exists but is not in this collection."


def test_no_invoker_is_503(api: Api) -> None:
    api.action("echo")
    api.dispatcher.unavailable = True
    response = invoke(api, "echo", blocking="true")
    assert error(response, 503) == ("The server is currently unavailable (because it is overloaded or down for "
                                    "maintenance).")


def test_final_parameters_may_not_be_overridden(api: Api) -> None:
    api.action("f", parameters=kv(fixed=1), annotations=kv(final=True))
    response = invoke(api, "f", {"fixed": 2}, blocking="true")
    assert error(response, 400) == "Request defines parameters that are not allowed (e.g., reserved properties)."
    assert ok(invoke(api, "f", {"other": 2}, blocking="true", result="true")) == {"fixed": 1, "other": 2}


def test_init_parameters_go_to_init_not_run(api: Api) -> None:
    api.action("i", parameters=[{"key": "secret", "value": "s", "init": True}, {"key": "p", "value": 1}])
    activation_id = ok(invoke(api, "i", {"q": 2}), 202)["activationId"]
    sent = api.dispatcher.message(activation_id)
    assert sent.content == {"p": 1, "q": 2} and sent.init_args == {"secret": "s"}
    overridden = api.dispatcher.message(ok(invoke(api, "i", {"secret": "t"}), 202)["activationId"])
    assert overridden.content == {"p": 1} and overridden.init_args == {"secret": "t"}


def test_the_callers_key_goes_along_only_when_the_action_asks(api: Api) -> None:
    api.action("plain")
    api.action("keyed", annotations=kv(**{"provide-api-key": True}))
    plain = api.dispatcher.message(ok(invoke(api, "plain"), 202)["activationId"])
    keyed = api.dispatcher.message(ok(invoke(api, "keyed"), 202)["activationId"])
    assert plain.api_key is None
    assert keyed.api_key == f"{api.auth[0]}:{api.auth[1]}"


def test_parameters_merge_package_binding_action_payload(api: Api) -> None:
    api.package("pkg", parameters=kv(p="package", b="package", a="package", x="package"))
    api.action("pkg/echo", parameters=kv(a="action", x="action"))
    api.package("bind", binding={"namespace": "_", "name": "pkg"}, parameters=kv(b="binding", x="binding"))

    via_binding = ok(invoke(api, "bind/echo", {"x": "payload"}, blocking="true"))
    assert via_binding["response"]["result"] == {"p": "package", "b": "binding", "a": "action", "x": "payload"}
    notes = {a["key"]: a["value"] for a in via_binding["annotations"]}
    assert notes["path"] == f"{api.ns}/pkg/echo" and notes["binding"] == f"{api.ns}/bind"
    assert via_binding["name"] == "echo"

    direct = ok(invoke(api, "pkg/echo", blocking="true", result="true"))
    assert direct == {"p": "package", "b": "package", "a": "action", "x": "action"}
    sent = api.dispatcher.message(ok(invoke(api, "pkg/echo"), 202)["activationId"])
    assert sent.binding is None and sent.action == f"{api.ns}/pkg/echo"


def test_another_namespace_invokes_a_public_package_as_itself(api: Api) -> None:
    api.package("shared", publish=True, parameters=kv(shared="yes"))
    api.action("shared/echo")
    response = api.post(f"/api/v1/namespaces/{api.ns}/actions/shared/echo", {"who": "other"},
                        query={"blocking": "true"}, auth=api.other)
    activation = ok(response)
    assert activation["namespace"] == api.other_ns and activation["subject"] == api.other_ns  # billed to the caller
    assert activation["response"]["result"] == {"shared": "yes", "who": "other"}
    mine = ok(api.get(f"{NS}/activations/{activation['activationId']}", auth=api.other))
    assert mine["activationId"] == activation["activationId"]
    error(api.get(f"{NS}/activations/{activation['activationId']}"), 404)  # not in the owner's namespace


def test_the_record_is_stored_with_its_logs(api: Api) -> None:
    api.action("logs")
    api.dispatcher.replies[f"{api.ns}/logs"] = Reply(result={"ok": True}, logs=("line 1", "line 2"))
    activation_id = ok(invoke(api, "logs", blocking="true"))["activationId"]
    record = ok(api.get(f"{NS}/activations/{activation_id}"))
    assert record["logs"] == ["line 1", "line 2"] and record["response"]["result"] == {"ok": True}
