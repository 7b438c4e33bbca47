"""A record read as soon as its activation finished has its logs (issue 15, item 3), on the real stack: the invoker
hands the result back before it collects the logs and stores the record, so a read in between used to get the
result backend's copy with ``"logs": []``. ``wsk action invoke --blocking`` then ``wsk activation logs <id>``."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.integration.helpers import RECORD_DEADLINE_S, invoke, put_action

pytestmark = pytest.mark.integration

PRINTS = "def main(args):\n    print('line of ' + args['n'])\n    return {'n': args['n']}\n"
ROUNDS = 10  # each round is one chance for a read to fall between the answer and the record


def lines(logs: list[str]) -> list[str]:
    """The printed text of each log line (``<time> stdout: <text>``)."""
    return [line.split(" stdout: ", 1)[1] for line in logs]


def test_logs_read_right_after_a_blocking_invoke_are_there(api: httpx.Client, unique: str) -> None:
    put_action(api, unique, PRINTS)
    for n in range(ROUNDS):
        answer = invoke(api, unique, {"n": str(n)}, blocking="true")
        assert answer.status_code == 200, answer.text
        activation_id = answer.json()["activationId"]
        logs = api.get(f"/api/v1/namespaces/_/activations/{activation_id}/logs")
        assert logs.status_code == 200, logs.text
        assert lines(logs.json()["logs"]) == [f"line of {n}"], n


def test_a_record_read_as_soon_as_a_non_blocking_invoke_finished_has_its_logs(api: httpx.Client,
                                                                               unique: str) -> None:
    put_action(api, unique, PRINTS)
    for n in range(ROUNDS):
        answer = invoke(api, unique, {"n": str(n)})
        assert answer.status_code == 202, answer.text
        activation_id = answer.json()["activationId"]
        deadline = time.monotonic() + RECORD_DEADLINE_S
        # The first answer that is not 404 is the one a client polling for the activation gets.
        while (read := api.get(f"/api/v1/namespaces/_/activations/{activation_id}")).status_code == 404:
            assert time.monotonic() < deadline, f"activation {activation_id} never finished"
            time.sleep(0.01)  # polling the API as a client does; the test waits on nothing else
        assert read.status_code == 200, read.text
        assert lines(read.json()["logs"]) == [f"line of {n}"], n
