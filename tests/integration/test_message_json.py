"""Parameters and results are the caller's JSON all the way through the real stack: an object shaped like one of
kombu's typed values (``{"__type__": ..., "__value__": ...}``) crosses RabbitMQ (the invoke's task message, a
sequence's step message) and Redis (the blocking caller's result) unchanged, and every such activation is stored
(``tasks.message_json``). Before, one reached the action as bytes or a datetime, one ended as "whisk internal
error", and one with an unknown or malformed type left no record and a blocking caller waiting 60 s."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.helpers import invoke, put_action, wait_for_record

pytestmark = pytest.mark.integration

ECHO = "def main(args):\n    return args\n"

TYPED_LOOKING: dict[str, Any] = {
    "bytes": {"__type__": "bytes", "__value__": "aGk="},
    "base64": {"__type__": "base64", "__value__": "aGk="},
    "datetime": {"__type__": "datetime", "__value__": "2020-01-01T00:00:00"},
    "decimal": {"__type__": "decimal", "__value__": "1.5"},
    "uuid": {"__type__": "uuid", "__value__": "not-a-uuid"},
    "unknown": {"__type__": "no-such-type", "__value__": 1},
    "nested": [{"__type__": "date", "__value__": "2020-01-01"}],
}


@pytest.mark.parametrize("name", sorted(TYPED_LOOKING))
def test_blocking_result_is_what_the_action_returned(api: httpx.Client, unique: str, name: str) -> None:
    put_action(api, unique, ECHO)
    params = {"value": TYPED_LOOKING[name]}
    response = invoke(api, unique, params, blocking="true", result="true", timeout="20000")
    assert response.status_code == 200, response.text
    assert response.json() == params
    stored = wait_for_record(api, response.headers["x-openwhisk-activation-id"])
    assert stored["response"]["result"] == params


def test_nonblocking_activation_is_stored_with_its_params(api: httpx.Client, unique: str) -> None:
    put_action(api, unique, ECHO)
    accepted = invoke(api, unique, TYPED_LOOKING)
    assert accepted.status_code == 202, accepted.text
    record = wait_for_record(api, accepted.json()["activationId"])
    assert record["response"]["status"] == "success"
    assert record["response"]["result"] == TYPED_LOOKING


def test_sequence_passes_them_from_step_to_step(api: httpx.Client, unique: str) -> None:
    put_action(api, f"{unique}-a", ECHO)
    put_action(api, f"{unique}-b", ECHO)
    created = api.put(f"/api/v1/namespaces/_/actions/{unique}",
                      json={"exec": {"kind": "sequence", "components": [f"/_/{unique}-a", f"/_/{unique}-b"]}})
    assert created.status_code == 200, created.text
    response = invoke(api, unique, TYPED_LOOKING, blocking="true", result="true", timeout="20000")
    assert response.status_code == 200, response.text
    assert response.json() == TYPED_LOOKING
