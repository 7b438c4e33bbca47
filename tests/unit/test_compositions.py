"""Sequences and conductors as continuations, driven step by step over fakes of our own ports.

A tiny in-test "invoker" runs each published component as a Python function and feeds its activation back
as the invoke task does (``completed_event``), so the whole state machine runs without a broker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from app.core.compositions import (
    COMPOSITION_TOO_LONG,
    begin,
    component_invalid,
    component_not_found,
    derive_id,
    is_conductor,
)
from app.core.entities import SEQUENCE, Action, Activation, ActivationMessage, Exec, Status, new_activation_id
from app.core.errors import StoreError
from app.core.limits import ActionLimits
from app.core.names import EntityPath
from app.core.sequences import COMPONENT_NOT_FOUND, TOO_LONG
from app.core.services.compositions import CompositionService, completed_event, start_event
from app.state.ledger import MemoryStepLedger
from tests.fakes import DictActivationStore, DictEntityStore

pytestmark = pytest.mark.unit

Body = Callable[[dict[str, Any]], Any]


class Recorder:
    def __init__(self) -> None:
        self.published: list[ActivationMessage] = []
        self.results: dict[str, dict[str, Any]] = {}

    def publish(self, message: ActivationMessage) -> None:
        self.published.append(message)

    def wait(self, activation_id: str, timeout_s: float) -> dict[str, Any] | None:
        return self.results.get(activation_id)

    def peek(self, activation_id: str) -> dict[str, Any] | None:
        return self.results.get(activation_id)

    def store_result(self, activation_id: str, activation: dict[str, Any]) -> None:
        self.results[activation_id] = activation


class World:
    """Actions (python bodies) in a fake store, and a loop that plays the invoker."""

    def __init__(self, max_length: int = 50) -> None:
        self.entities = DictEntityStore()
        self.activations = DictActivationStore()
        self.bus = Recorder()
        self.bodies: dict[str, Body] = {}
        self.ledger = MemoryStepLedger()
        self.finished: list[Activation] = []  # what the invoker's metrics would count
        self.service = CompositionService(self.entities, self.activations, self.bus, self.bus, max_length,
                                          self.ledger, finished=self.finished.append)
        self.ran: list[tuple[str, dict[str, Any]]] = []

    def action(self, name: str, body: Body, memory: int = 256, params: dict[str, Any] | None = None,
               annotations: list[dict[str, Any]] | None = None) -> Action:
        path = EntityPath.parse_fqn(name if name.startswith("/") else f"/guest/{name}", "guest")
        action = Action(path, Exec("python:3", code="x"), ActionLimits(60000, memory, 10, 1),
                        parameters=[{"key": k, "value": v} for k, v in (params or {}).items()],
                        annotations=annotations or [])
        self.bodies[path.doc_id] = body
        return self.entities.put_action(action)

    def conductor(self, name: str, body: Body, memory: int = 256) -> Action:
        return self.action(name, body, memory, annotations=[{"key": "conductor", "value": True}])

    def sequence(self, name: str, *components: str) -> Action:
        path = EntityPath("guest", name)
        action = Action(path, Exec(SEQUENCE, components=tuple(f"/guest/{c}" for c in components)),
                        ActionLimits(60000, 256, 10, 1))
        return self.entities.put_action(action)

    def invoke(self, action: Action, payload: dict[str, Any]) -> dict[str, Any]:
        """Start it the way the controller does, then play every published step to the end."""
        aid = new_activation_id()
        cont = begin(action, activation_id=aid, namespace="guest", subject="guest", transaction_id="tid",
                     api_key="uuid:key", start=1000)
        self.service.step(**start_event(cont, payload))
        while self.bus.published:
            self.run(self.bus.published.pop(0))
        return self.bus.results[aid]

    def run(self, msg: ActivationMessage) -> None:
        self.ran.append((msg.action, msg.content))
        try:
            content = msg.content if isinstance(msg.content, list) else dict(msg.content)
            result = self.bodies[msg.action](content)
            status = Status.APPLICATION_ERROR if isinstance(result, dict) and "error" in result else Status.SUCCESS
        except Exception as e:  # a body that "crashes" is a developer error
            result, status = {"error": str(e)}, Status.DEVELOPER_ERROR
        if status != Status.SUCCESS:
            result = {"error": result["error"]}
        action = Action.from_doc(self.entities.docs[msg.action])
        activation = Activation(
            namespace=msg.namespace, name=action.path.name, version=action.version, subject=msg.subject,
            activation_id=msg.activation_id, start=10, end=17, status=status, result=result, cause=msg.cause,
            annotations=[{"key": "limits", "value": action.limits.to_doc()}])
        self.activations.put_activation(activation.to_doc())
        assert msg.continuation is not None
        self.last_event = completed_event(msg.continuation, activation)
        self.service.step(**self.last_event)

    def record(self, activation_id: str) -> dict[str, Any]:
        return Activation.from_doc(self.activations.get_activation("guest", activation_id)).to_api()


def annotations(record: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: a["value"] for a in record["annotations"]}


def add(n: int) -> Body:
    return lambda args: {**args, "value": args.get("value", 0) + n}


def test_result_flows_component_to_component() -> None:
    w = World()
    w.action("inc", add(1), memory=128)
    w.action("double", lambda a: {"value": a["value"] * 2}, memory=512, params={"unused": True})
    w.action("dec", add(-1), params={"step": "last"})
    seq = w.sequence("s", "inc", "double", "dec")
    result = w.invoke(seq, {"value": 3})
    assert result["response"]["status"] == "success"
    assert result["response"]["result"] == {"value": 7, "step": "last"}
    # first component: its params (none) + payload; next ones: their params + the previous result
    assert [content for _, content in w.ran] == [{"value": 3}, {"unused": True, "value": 4},
                                                  {"step": "last", "value": 8}]
    record = w.record(result["activationId"])
    assert record == result
    assert len(record["logs"]) == 3
    assert record["duration"] == 3 * 7
    assert record["name"] == "s" and "cause" not in record
    marks = annotations(record)
    assert marks.pop("waitTime") >= 0
    assert marks == {"topmost": True, "path": "guest/s", "kind": "sequence",
                     "limits": {"timeout": 60000, "memory": 512, "logs": 10, "concurrency": 1}}
    for component_id in record["logs"]:
        assert w.record(component_id)["cause"] == result["activationId"]


def test_component_ids_are_derived_so_a_repeated_step_reuses_them() -> None:
    w = World()
    w.action("a", add(1))
    result = w.invoke(w.sequence("s", "a", "a"), {})
    assert result["logs"] == [derive_id(result["activationId"], 0), derive_id(result["activationId"], 1)]


def test_the_first_error_stops_the_sequence_with_its_status() -> None:
    w = World()
    w.action("ok", add(1))
    w.action("fails", lambda a: {"error": "bad input", "ignored": 1})
    w.action("never", add(100))
    result = w.invoke(w.sequence("s", "ok", "fails", "never"), {"value": 1})
    assert result["response"]["status"] == "application error"
    assert result["response"]["result"] == {"error": "bad input"}
    assert [name for name, _ in w.ran] == ["guest/ok", "guest/fails"]
    assert len(result["logs"]) == 2


def test_a_developer_error_keeps_its_status() -> None:
    w = World()

    def crash(args: dict[str, Any]) -> Any:
        raise RuntimeError("exited")

    w.action("crash", crash)
    w.action("never", add(1))
    result = w.invoke(w.sequence("s", "crash", "never"), {})
    assert result["response"]["status"] == "action developer error"
    assert len(result["logs"]) == 1


def test_a_component_deleted_after_create_is_an_application_error() -> None:
    w = World()
    w.action("a", add(1))
    w.action("gone", add(1))
    seq = w.sequence("s", "a", "gone", "a")
    del w.entities.docs["guest/gone"]
    result = w.invoke(seq, {})
    assert result["response"]["status"] == "application error"
    assert result["response"]["result"] == {"error": COMPONENT_NOT_FOUND}
    assert len(result["logs"]) == 1


def test_nested_sequences_have_their_own_record_and_cause() -> None:
    w = World()
    w.action("a", add(1))
    w.action("b", add(10), memory=384)
    w.sequence("inner", "a", "b")
    outer = w.sequence("outer", "a", "inner", "a")
    result = w.invoke(outer, {"value": 0})
    assert result["response"]["result"] == {"value": 13}
    logs = result["logs"]
    assert len(logs) == 3  # a, inner (one id), a
    inner = w.record(logs[1])
    assert inner["name"] == "inner" and inner["cause"] == result["activationId"]
    assert annotations(inner)["topmost"] is False and annotations(inner)["causedBy"] == "sequence"
    assert len(inner["logs"]) == 2 and inner["duration"] == 14
    for component_id in inner["logs"]:
        assert w.record(component_id)["cause"] == inner["activationId"]
    assert result["duration"] == 7 + 14 + 7
    assert annotations(result)["limits"]["memory"] == 384
    # Each composition's own record is told once (its components are counted where they run), inner first.
    assert [a.activation_id for a in w.finished] == [inner["activationId"], result["activationId"]]


def test_a_step_delivered_twice_tells_its_record_once() -> None:
    w = World()
    w.action("a", add(1))
    result = w.invoke(w.sequence("s", "a"), {})
    w.service.step(**w.last_event)  # the last component's completion again: the ledger drops it
    assert [a.activation_id for a in w.finished] == [result["activationId"]]


def test_an_error_inside_a_nested_sequence_stops_the_outer_one() -> None:
    w = World()
    w.action("a", add(1))
    w.action("fails", lambda a: {"error": "deep"})
    w.sequence("inner", "fails", "a")
    result = w.invoke(w.sequence("outer", "a", "inner", "a"), {})
    assert result["response"] == {"status": "application error", "success": False, "result": {"error": "deep"},
                                  "size": 16}
    assert len(result["logs"]) == 2


def test_the_atomic_limit_holds_at_run_time() -> None:
    w = World(max_length=2)
    w.action("a", add(1))
    result = w.invoke(w.sequence("s", "a", "a", "a"), {})
    assert result["response"]["result"] == {"error": TOO_LONG}
    assert len(result["logs"]) == 2


def test_conductor_with_two_steps() -> None:
    w = World()
    w.action("triple", lambda a: {"value": a["value"] * 3})
    w.action("increment", lambda a: {"value": a["value"] + 1})

    def conduct(params: dict[str, Any]) -> Any:
        step = params.pop("$step", 0)
        if step == 0:
            return {"action": "triple", "params": params, "state": {"$step": 1}}
        if step == 1:
            return {"action": "/guest/increment", "params": params, "state": {"$step": 2}}
        return {"params": params}

    conductor = w.conductor("tripleAndIncrement", conduct, memory=128)
    assert is_conductor(conductor)
    result = w.invoke(conductor, {"value": 3})
    assert result["response"]["result"] == {"value": 10}
    assert [name for name, _ in w.ran] == ["guest/tripleAndIncrement", "guest/triple", "guest/tripleAndIncrement",
                                           "guest/increment", "guest/tripleAndIncrement"]
    assert w.ran[2][1] == {"value": 9, "$step": 1}  # the component's result with the state on top
    assert len(result["logs"]) == 5 and result["duration"] == 5 * 7
    marks = annotations(result)
    assert marks["conductor"] is True and marks["kind"] == "sequence" and marks["topmost"] is True
    assert marks["limits"]["memory"] == 256  # the largest of the conductor and its components
    for step_id in result["logs"]:
        assert w.record(step_id)["cause"] == result["activationId"]


def test_conductor_params_and_state_are_boxed() -> None:
    w = World()
    w.action("echo", lambda a: a)

    def conduct(params: dict[str, Any]) -> Any:
        if "state" in params:
            return {"params": 42}
        return {"action": "echo", "params": "x", "state": "s"}

    result = w.invoke(w.conductor("c", conduct), {})
    assert w.ran[1] == ("guest/echo", {"value": "x"})
    assert w.ran[2][1] == {"value": "x", "state": "s"}
    assert result["response"]["result"] == {"value": 42}


def test_conductor_result_without_params_is_the_whole_result() -> None:
    w = World()
    result = w.invoke(w.conductor("c", lambda a: {"done": True}), {})
    assert result["response"]["result"] == {"done": True} and len(result["logs"]) == 1


def test_conductor_error_ends_the_composition() -> None:
    w = World()
    result = w.invoke(w.conductor("c", lambda a: {"error": "no way"}), {})
    assert result["response"]["status"] == "application error"
    assert result["response"]["result"] == {"error": "no way"}


def test_conductor_is_told_about_a_missing_or_malformed_component() -> None:
    w = World()

    def conduct(params: dict[str, Any]) -> Any:
        if "error" in params:
            return {"params": {"seen": params["error"]}}
        return {"action": params["next"]}

    conductor = w.conductor("c", conduct)
    missing = w.invoke(conductor, {"next": "nothing"})
    assert missing["response"]["result"] == {"seen": component_not_found("guest/nothing")}
    assert len(missing["logs"]) == 2
    malformed = w.invoke(conductor, {"next": 42})
    assert malformed["response"]["result"] == {"seen": component_invalid(42)}


def test_conductor_component_errors_go_back_to_the_conductor() -> None:
    w = World()
    w.action("fails", lambda a: {"error": "component broke"})

    def conduct(params: dict[str, Any]) -> Any:
        if "error" in params:
            return {"params": {"recovered": params["error"]}}
        return {"action": "fails"}

    result = w.invoke(w.conductor("c", conduct), {})
    assert result["response"]["status"] == "success"
    assert result["response"]["result"] == {"recovered": "component broke"}


def test_conductor_component_limit() -> None:
    w = World(max_length=2)
    w.action("a", add(1))

    def conduct(params: dict[str, Any]) -> Any:
        if "error" in params:
            return {"params": {"stopped": params["error"], "value": params.get("value")}}
        return {"action": "a", "params": params, "state": {}}

    result = w.invoke(w.conductor("loop", conduct), {"value": 0})
    assert result["response"]["result"] == {"stopped": COMPOSITION_TOO_LONG, "value": None}
    assert [name for name, _ in w.ran].count("guest/a") == 2


def test_conductor_step_limit() -> None:
    w = World(max_length=2)
    w.action("seq-part", add(1))
    # a conductor whose components are conductors: every level counts against the same conductor budget
    result = w.invoke(w.conductor("c", lambda a: {"action": "c"}), {})
    assert result["response"]["status"] == "application error"
    assert result["response"]["result"] == {"error": COMPOSITION_TOO_LONG}


def test_a_conductor_inside_a_sequence() -> None:
    w = World()
    w.action("a", add(1))
    w.conductor("c", lambda p: {"action": "a", "params": p} if "value" in p and p["value"] < 3 and
                "$done" not in p else {"params": p})
    result = w.invoke(w.sequence("s", "a", "c"), {"value": 0})
    assert result["response"]["result"] == {"value": 3}
    conductor_record = w.record(result["logs"][1])
    assert annotations(conductor_record)["conductor"] is True
    assert conductor_record["cause"] == result["activationId"]


def test_api_key_only_for_components_that_ask() -> None:
    w = World()
    w.action("plain", add(1))
    w.action("wants", add(1), annotations=[{"key": "provide-api-key", "value": True}])
    seq = w.sequence("s", "plain", "wants")
    cont = begin(seq, activation_id=new_activation_id(), namespace="guest", subject="guest", transaction_id="t",
                 api_key="uuid:key", start=1)
    w.service.step(**start_event(cont, {}))
    first = w.bus.published.pop()
    assert first.api_key is None and first.blocking and first.cause == cont.frames[0].activation_id
    w.run(first)
    assert w.bus.published.pop().api_key == "uuid:key"


@pytest.mark.parametrize(("value", "conducts"), [
    (True, True), ("yes", True), (1, True), ({"any": 1}, True), (False, False), (0, False), ("", False),
    (None, False),
])
def test_conductor_annotation_truthiness(value: Any, conducts: bool) -> None:
    w = World()
    action = w.action("c", add(1), annotations=[{"key": "conductor", "value": value}])
    assert is_conductor(action) is conducts


def test_the_conductor_annotation_is_ignored_on_sequences() -> None:
    w = World()
    w.action("a", add(1))
    seq = w.sequence("s", "a")
    assert not is_conductor(Action.from_doc({**seq.to_doc(), "annotations": [{"key": "conductor", "value": True}]}))


def test_conductor_is_told_about_a_component_it_may_not_invoke() -> None:
    w = World()
    w.action("/other/secret", add(1))

    def conduct(params: dict[str, Any]) -> Any:
        return {"params": params} if "error" in params else {"action": "/other/secret"}

    result = w.invoke(w.conductor("c", conduct), {})
    assert result["response"]["result"] == {
        "error": "Failed entitlement check for action with name 'other/secret' during composition."}
    assert [name for name, _ in w.ran] == ["guest/c", "guest/c"]


def test_a_sequence_component_in_another_namespace_is_not_run() -> None:
    w = World()
    w.action("/other/secret", add(1))
    seq = w.entities.put_action(Action(EntityPath("guest", "s"), Exec(SEQUENCE, components=("/other/secret",)),
                                       ActionLimits(60000, 256, 10, 1)))
    result = w.invoke(seq, {})
    assert result["response"]["result"] == {"error": COMPONENT_NOT_FOUND}
    assert w.ran == []


def test_a_bug_in_a_step_still_ends_in_records() -> None:
    w = World()
    w.action("a", add(1))
    w.sequence("inner", "a")
    outer = w.sequence("outer", "inner")
    w.entities.docs["guest/a"]["limits"] = "not limits"  # a document the step cannot read as an action
    aid = new_activation_id()
    cont = begin(outer, activation_id=aid, namespace="guest", subject="guest", transaction_id="t", api_key=None,
                 start=1)
    w.service.step(**start_event(cont, {}))
    assert w.bus.results[aid]["response"] == {"status": "whisk internal error", "success": False,
                                              "result": {"error": "Sequence failed."},
                                              "size": len('{"error":"Sequence failed."}')}
    assert len(w.activations.docs) == 1  # the outer record only: the inner frame was not pushed yet


def test_an_array_result_is_passed_on_as_it_is() -> None:
    w = World()
    w.action("split", lambda a: a["text"].split())
    w.action("count", lambda a: {"words": len(a)}, params={"ignored": "an array takes no parameters"})
    result = w.invoke(w.sequence("s", "split", "count"), {"text": "a b c"})
    assert w.ran[1] == ("guest/count", ["a", "b", "c"])
    assert result["response"]["result"] == {"words": 3}


def test_a_final_array_result_is_the_sequence_result() -> None:
    w = World()
    w.action("split", lambda a: a["text"].split())
    assert w.invoke(w.sequence("s", "split"), {"text": "x y"})["response"]["result"] == ["x", "y"]


def test_a_conductor_gets_nothing_from_a_component_array() -> None:
    w = World()
    w.action("split", lambda a: ["x"])

    def conduct(params: dict[str, Any]) -> Any:
        if "start" in params:
            return {"action": "split", "state": {"$seen": True}}
        return {"params": {"got": params}}

    result = w.invoke(w.conductor("c", conduct), {"start": 1})
    assert w.ran[2] == ("guest/c", {})
    assert result["response"]["result"] == {"got": {}}


def test_a_completion_delivered_twice_advances_the_sequence_once() -> None:
    w = World()
    w.action("a", add(1))
    seq = w.sequence("s", "a", "a")
    cont = begin(seq, activation_id=new_activation_id(), namespace="guest", subject="guest", transaction_id="t",
                 api_key=None, start=1)
    w.service.step(**start_event(cont, {"value": 0}))
    w.run(w.bus.published.pop())
    assert len(w.bus.published) == 1  # the second component
    w.service.step(**w.last_event)  # the first component's completion again (a redelivered invoke)
    assert len(w.bus.published) == 1
    w.service.step(**start_event(cont, {"value": 0}))  # and the start again
    assert len(w.bus.published) == 1


def test_a_step_that_failed_half_way_is_carried_out_again() -> None:
    w = World()
    w.action("a", add(1))
    seq = w.sequence("s", "a")
    cont = begin(seq, activation_id=new_activation_id(), namespace="guest", subject="guest", transaction_id="t",
                 api_key=None, start=1)
    w.entities.broken = True
    with pytest.raises(StoreError):
        w.service.step(**start_event(cont, {}))
    w.entities.broken = False
    w.service.step(**start_event(cont, {}))  # the task's retry: not marked done, so it runs
    assert len(w.bus.published) == 1


def test_a_composition_record_has_its_log_line_with_the_requests_tid(caplog: pytest.LogCaptureFixture) -> None:
    w = World()
    w.action("inc", add(1))
    seq = w.sequence("s", "inc", "inc")
    with caplog.at_level(logging.INFO, logger="app.core.services.compositions"):
        result = w.invoke(seq, {"value": 3, "secret": "not-logged"})
    [line] = [r for r in caplog.records if r.name == "app.core.services.compositions"]
    assert (line.tid, line.activation_id, line.action, line.kind, line.status, line.namespace) == \
        ("tid", result["activationId"], "guest/s", "sequence", "success", "guest")
    assert line.getMessage() == f"activation {result['activationId']} guest/s success {result['duration']} ms"
    assert "not-logged" not in line.getMessage() and "not-logged" not in str(vars(line))
