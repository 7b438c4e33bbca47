"""Invoker outcome mapping (pure) and the paths that never reach a container (fakes of our own ports)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.core.entities import Action, ActivationMessage, Exec, Status, annotation, new_activation_id, now_ms
from app.core.errors import RuntimeStartupError, StoreError, Unavailable, UserImageStartupError
from app.core.limits import ActionLimits
from app.core.manifest import RuntimeManifest
from app.core.names import EntityPath
from app.state.journal import MemoryJournal
from config.settings import Settings
from tests.fakes import DictActivationStore, DictEntityStore
from workers.factories.base import ContainerSpec
from workers.invoker import Invoker, TryLater, init_outcome, run_outcome, stringify
from workers.pool import ContainerPool
from workers.proxy_client import ProxyResponse
from workers.records import DirectRecordWriter, RecordNotStored

pytestmark = pytest.mark.unit

MANIFEST = RuntimeManifest.from_dict({"runtimes": {"python": [
    {"kind": "python:3", "default": True, "image": {"prefix": "squall", "name": "action-python-v3"}}]}})


def response(status: int, raw: bytes) -> ProxyResponse:
    return ProxyResponse.parse(status, raw)


# --- outcome mapping ------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "raw", "expected_status", "expected_result"), [
    (200, b'{"a": 1}', Status.SUCCESS, {"a": 1}),
    (200, b'[1, 2]', Status.SUCCESS, [1, 2]),
    (200, b'{"error": "no", "other": 1}', Status.APPLICATION_ERROR, {"error": "no"}),
    (200, b'{"error": {"code": 7}}', Status.APPLICATION_ERROR, {"error": {"code": 7}}),
    (502, b'{"error": "The action did not return a dictionary or array."}', Status.DEVELOPER_ERROR,
     {"error": "The action did not return a dictionary or array."}),
    (502, b'{"oops": 1}', Status.DEVELOPER_ERROR,
     {"error": 'The action did not produce a valid JSON or JSON Array response: {"oops": 1}'}),
    (200, b'42', Status.DEVELOPER_ERROR,
     {"error": "The action did not produce a valid JSON or JSON Array response: 42"}),
    (200, b'not json', Status.DEVELOPER_ERROR,
     {"error": "The action did not produce a valid JSON or JSON Array response: not json"}),
    (500, b'', Status.DEVELOPER_ERROR,
     {"error": "The action did not produce a valid JSON or JSON Array response."}),
    (500, b'[1]', Status.DEVELOPER_ERROR,
     {"error": "The action did not produce a valid JSON or JSON Array response: [1]"}),
])
def test_run_outcomes(status, raw, expected_status, expected_result):
    outcome = run_outcome(response(status, raw), 1_048_576)
    assert (outcome.status, outcome.result) == (expected_status, expected_result)
    assert outcome.reusable == (expected_status in (Status.SUCCESS, Status.APPLICATION_ERROR))


def test_oversized_result_is_a_truncated_application_error():
    raw = json.dumps({"big": "x" * 100}).encode()
    outcome = run_outcome(response(200, raw), 20)
    assert outcome.status == Status.APPLICATION_ERROR
    assert outcome.result == {"error": (
        f"The action produced a response that exceeded the allowed length: {len(raw)} > 20 bytes. "
        f"The truncated response was: {raw[:20].decode()}")}


def test_init_outcomes():
    assert init_outcome(response(200, b'{"ok": true}')) is None
    failed = init_outcome(response(502, b'{"error": "Cannot start action."}'))
    assert failed is not None and failed.status == Status.DEVELOPER_ERROR
    assert failed.result == {"error": "Cannot start action."}
    raw = init_outcome(response(500, b"boom"))
    assert raw is not None and raw.result == {"error": "The action failed during initialization: boom"}


@pytest.mark.parametrize(("value", "text"), [
    ("s", "s"), (None, ""), (1, "1"), (1.5, "1.5"), (True, "true"), ({"a": [1, 2]}, '{"a":[1,2]}'),
])
def test_init_parameters_are_stringified(value, text):
    assert stringify(value) == text


# --- paths without a container --------------------------------------------------------------------


class FailingFactory:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.specs: list[ContainerSpec] = []

    def create(self, spec: ContainerSpec) -> Any:
        self.specs.append(spec)
        raise self.error

    def cleanup(self) -> None:
        pass

    def close(self) -> None:
        pass


class BrokenJournal:
    def claim(self, activation_id: str) -> bool:
        raise Unavailable()

    def close(self) -> None:
        pass


class Setup:
    def __init__(self, error: Exception | None = None, journal: Any = None, activations: Any = None) -> None:
        settings = Settings()
        self.entities = DictEntityStore()
        self.activations = activations if activations is not None else DictActivationStore()
        self.factory = FailingFactory(error or RuntimeStartupError())
        self.pool = ContainerPool(self.factory, settings.invoker)
        self.invoker = Invoker(self.entities, self.activations, self.pool, MANIFEST, settings,
                               journal or MemoryJournal(),
                               records=DirectRecordWriter(self.activations, pauses_s=(0.0, 0.0)),
                               retry_pauses_s=(0.0,))
        self.published: list[dict[str, Any]] = []

    def action(self, kind: str = "python:3", image: str | None = None) -> Action:
        action = Action(EntityPath("guest", "hello", "pkg"), Exec(kind, code="def main(a): return a", image=image),
                        ActionLimits(60000, 256, 10, 1), rev="1-abc")
        self.entities.docs[action.path.doc_id] = action.to_doc()
        return action

    def message(self, doc_id: str = "guest/pkg/hello", **kwargs: Any) -> ActivationMessage:
        return ActivationMessage(activation_id=new_activation_id(), transaction_id="t", namespace="alice",
                                 subject="alice", action=doc_id, revision="1-abc", content={}, blocking=True,
                                 received_ms=now_ms(), **kwargs)

    def invoke(self, msg: ActivationMessage):
        return self.invoker.invoke(msg, self.published.append)


@pytest.fixture
def setup():
    made: list[Setup] = []

    def make(**kwargs: Any) -> Setup:
        s = Setup(**kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        s.invoker.close()


def test_missing_action_is_an_application_error_record(setup):
    s = setup()
    activation = s.invoke(s.message("guest/nope"))
    assert activation.status == Status.APPLICATION_ERROR
    assert activation.result == {"error": "Action could not be found or may have been deleted."}
    assert activation.name == "nope" and activation.namespace == "alice"
    assert s.published[0]["response"]["status"] == "application error"
    assert s.activations.docs[f"alice/{activation.activation_id}"]["response"]["statusCode"] == 1


def test_an_unreadable_store_puts_the_message_back_for_later(setup):
    """Nothing ran: failing the activation for good would be wrong (tests/unit/test_invoker_journal.py)."""
    s = setup()
    s.action()
    s.entities.broken = True
    with pytest.raises(TryLater):
        s.invoke(s.message())
    assert s.activations.docs == {} and s.factory.specs == []


def test_no_container_is_a_whisk_error_with_the_annotations(setup):
    s = setup()
    s.action()
    activation = s.invoke(s.message(binding="alice/mybinding", cause="0" * 32))
    assert activation.status == Status.WHISK_ERROR
    assert activation.result == {"error": "Failed to provision resources to run the action."}
    assert annotation(activation.annotations, "path") == "guest/pkg/hello"
    assert annotation(activation.annotations, "kind") == "python:3"
    assert annotation(activation.annotations, "binding") == "alice/mybinding"
    assert annotation(activation.annotations, "causedBy") == "sequence"
    assert annotation(activation.annotations, "initTime") is None
    assert activation.cause == "0" * 32
    spec = s.factory.specs[0]
    assert (spec.image, spec.memory_mb, spec.namespace, spec.action, spec.user_image) == \
        ("squall/action-python-v3", 256, "alice", "hello", False)


def test_blackbox_image_failure_is_a_developer_error(setup):
    s = setup(error=UserImageStartupError("Failed to pull container image 'me/img'."))
    s.action(kind="blackbox", image="me/img")
    activation = s.invoke(s.message())
    assert activation.status == Status.DEVELOPER_ERROR
    assert activation.result == {"error": "Failed to pull container image 'me/img'."}
    assert s.factory.specs[0].image == "me/img" and s.factory.specs[0].user_image


def test_init_sends_the_code_and_no_code_for_a_blackbox_without_any(setup):
    """OpenWhisk's dockerskeleton writes any ``code`` it gets over its own executable, even ""."""
    s = setup()
    with_code = s.action()
    payload = s.invoker._init_payload(s.message(), with_code, now_ms())["value"]
    assert (payload["code"], payload["main"], payload["binary"]) == ("def main(a): return a", "main", False)
    bare = Action(EntityPath("guest", "bare"), Exec("blackbox", image="openwhisk/dockerskeleton"),
                  ActionLimits(60000, 256, 10, 1), rev="1-abc")
    payload = s.invoker._init_payload(s.message("guest/bare"), bare, now_ms())["value"]
    assert "code" not in payload and payload["env"]["__OW_NAMESPACE"] == "alice"


def test_unknown_kind_is_a_whisk_error(setup):
    s = setup()
    s.action(kind="cobol:1")
    assert s.invoke(s.message()).status == Status.WHISK_ERROR
    assert s.factory.specs == []


def test_redelivery_without_a_record_is_recorded_and_not_run(setup):
    s = setup()
    s.action()
    msg = s.message()
    assert s.invoker._journal.claim(msg.activation_id)  # as if an earlier delivery had started it
    activation = s.invoke(msg)
    assert activation.status == Status.WHISK_ERROR
    assert activation.result == {"error": "The invoker stopped while the action ran; it was not run again."}


def test_redelivery_with_a_record_returns_it(setup):
    s = setup()
    s.action()
    msg = s.message()
    first = s.invoke(msg)
    again = s.invoke(msg)
    assert again == first  # its claim, taken before the failure was recorded, sends it to the stored record
    assert len(s.activations.docs) == 1
    assert len(s.published) == 2


def test_a_failure_before_the_run_is_recorded_even_when_the_journal_is_down(setup):
    s = setup(journal=BrokenJournal())
    s.action()
    activation = s.invoke(s.message())
    assert activation.status == Status.WHISK_ERROR
    assert f"alice/{activation.activation_id}" in s.activations.docs


def test_actions_are_cached_by_revision(setup):
    s = setup()
    s.action()
    s.invoke(s.message())
    s.invoke(s.message())
    assert s.entities.reads == 1


def test_a_failing_publish_still_stores_the_record(setup):
    s = setup()

    def broken(_doc: dict[str, Any]) -> None:
        raise ConnectionError("backend down")

    activation = s.invoker.invoke(s.message("guest/nope"), broken)
    assert f"alice/{activation.activation_id}" in s.activations.docs


def test_sequence_sent_to_an_invoker_is_a_whisk_error(setup):
    s = setup()
    s.action(kind="sequence")
    assert s.invoke(s.message()).status == Status.WHISK_ERROR
    assert s.factory.specs == []


def test_unreadable_action_document_counts_as_missing(setup):
    s = setup()
    s.entities.docs["guest/bad"] = {"_id": "guest/bad", "_rev": "1-x", "namespace": "guest"}
    assert s.invoke(s.message("guest/bad")).result == {"error": "Action could not be found or may have been deleted."}


class DownActivationStore(DictActivationStore):
    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    def put_activation(self, doc: dict[str, Any]) -> None:
        self.attempts += 1
        raise StoreError()


def test_a_record_the_store_refuses_is_handed_back_to_be_stored_later(setup):
    s = setup(activations=DownActivationStore())
    with pytest.raises(RecordNotStored) as raised:
        s.invoke(s.message("guest/nope"))
    assert s.activations.attempts == 3
    assert raised.value.doc["response"]["statusCode"] == 1  # the record itself travels with the error
    assert s.published[0]["response"]["status"] == "application error"  # the caller was answered first
    s.invoker._activations = DictActivationStore()
    s.invoker.store_record(raised.value.doc)  # what the store_record task does on its retry
    assert s.invoker._activations.docs[raised.value.doc["_id"]] == raised.value.doc


class HoldingFactory:
    """Starts containers that are never reached: enough to hold the pool's memory."""

    def create(self, spec: ContainerSpec) -> Any:
        from tests.unit.test_pool import FakeContainer

        return FakeContainer("held", spec)

    def cleanup(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_run_that_outwaits_its_timeout_in_the_buffer_is_a_whisk_error():
    settings = Settings().replace(invoker={"user_memory_mb": 256})
    pool = ContainerPool(HoldingFactory(), settings.invoker)
    entities, activations = DictEntityStore(), DictActivationStore()
    invoker = Invoker(entities, activations, pool, MANIFEST, settings, MemoryJournal())
    try:
        pool.acquire(("other", "guest/x", "1"), ContainerSpec("img", 256, "other", "x", "python:3"))
        action = Action(EntityPath("guest", "hello"), Exec("python:3", code="def main(a): return a"),
                        ActionLimits(100, 256, 10, 1), rev="1-abc")
        entities.docs[action.path.doc_id] = action.to_doc()
        msg = ActivationMessage(activation_id=new_activation_id(), transaction_id="t", namespace="guest",
                                subject="guest", action="guest/hello", revision="1-abc", content={}, blocking=True,
                                received_ms=now_ms())
        activation = invoker.invoke(msg, lambda _doc: None)
        assert activation.status == Status.WHISK_ERROR
        assert activation.result == {"error": "Failed to provision resources to run the action: no container "
                                              "memory became free within the action's time limit of 100 milliseconds."}
        assert activations.docs[f"guest/{activation.activation_id}"]["response"]["statusCode"] == 3
    finally:
        invoker.close()
