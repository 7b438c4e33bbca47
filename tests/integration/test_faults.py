"""Faults an operator meets, on the real parts: a broker restart under load, and invokers killed at the two moments
that used to cost a correct record (while containers start, and after the run but before the record is stored).

Each module run starts its own RabbitMQ node, Redis and pouchdb-server (``bench.faults``) and a lab of two invokers
on hosts of their own (``bench.lab``: network namespaces, the ``process`` container factory); the services are
stopped and started by the tests. Every loop is bounded. Needs root (namespaces); about a minute and a half.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest

from app.core.placement import rendezvous
from bench.faults import Outcome, Services, fault_lab, run_scenario
from bench.lab import ACTION_CODE, SUCCESS, Call, Lab, call, exactly_once, status_of, unavailable, wait_recorded
from workers.invoker import LOGS_LOST

pytestmark = pytest.mark.integration

BROKER_DOWN_S = 15.0
CONSUMING_AGAIN_S = 5.0
SLOW_INIT_S = 4.0
KILLED = 4
"""Activations in flight on the invoker that is killed (its threads)."""


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, Lab]]:
    reason = unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with fault_lab(tmp_path_factory.mktemp("faults"), invokers=2,
                   invoker_env={"SQUALL_INVOKER_THREADS": str(KILLED)}) as made:
        yield made


def check(outcome: Outcome) -> None:
    print(f"\n{outcome.line()}")
    for example in outcome.examples:
        print(f"    e.g. {example}")


def test_a_broker_restart_under_load_loses_nothing_and_the_invokers_consume_again_at_once(faulty) -> None:
    services, lab = faulty
    outcome = run_scenario(services, lab, "broker", BROKER_DOWN_S)
    check(outcome)
    assert (outcome.lost, outcome.twice, outcome.whisk_errors) == (0, 0, 0), outcome.examples
    assert (outcome.wrong_status, outcome.client_errors, outcome.late) == (0, 0, 0), outcome.examples
    assert outcome.recovery_s is not None and outcome.recovery_s <= CONSUMING_AGAIN_S, \
        f"no blocking call answered within {CONSUMING_AGAIN_S} s of the broker's return"


# --- invokers killed ---------------------------------------------------------------------------------------------


def homed_on(lab: Lab, invoker: str, prefix: str) -> str:
    """An action name whose first placement choice is ``invoker`` among the live ones."""
    names = sorted(lab.reports())
    for k in range(10_000):
        if rendezvous(f"guest|guest/{prefix}{k}", names)[0] == invoker:
            return f"{prefix}{k}"
    raise AssertionError(f"no action name is homed on {invoker}")


def put(lab: Lab, name: str, code: str) -> None:
    assert lab.recorder is not None
    with lab.client() as client:
        response = client.put(f"/api/v1/namespaces/_/actions/{name}", params={"overwrite": "true"},
                              json={"exec": {"kind": "python:3", "code": code},
                                    "parameters": [{"key": "recorder", "value": lab.recorder.url}],
                                    "limits": {"memory": 256, "timeout": 60_000}})
    assert response.status_code == 200, response.text


def replace_victim(lab: Lab, victim: str) -> None:
    """The killed invoker's host is gone; a new one takes its place for the tests after."""
    lab.kill(victim)
    lab.add_invoker()


def invoke_all(lab: Lab, action: str, s: float, count: int) -> list[Call]:
    with lab.client() as client:
        calls = [call(client, action, s, blocking=False) for _ in range(count)]
    assert all(c.status == 202 for c in calls), [c.body for c in calls if c.status != 202]
    return calls


def test_an_invoker_killed_while_its_containers_start_leaves_its_activations_to_run_elsewhere(faulty) -> None:
    """Claimed at ``/run``, not at receipt: activations whose containers were still initializing when their
    invoker died are run by another invoker, once, instead of being recorded as interrupted."""
    _, lab = faulty
    victim = sorted(lab.reports())[0]
    action = homed_on(lab, victim, "slowinit")
    put(lab, action, f"import time\ntime.sleep({SLOW_INIT_S})\n{ACTION_CODE}")
    calls = invoke_all(lab, action, 0.0, KILLED)
    time.sleep(SLOW_INIT_S / 2)  # every one is in /init now, on the victim (its home) or its neighbour
    assert lab.recorder is not None and not set(lab.recorder.ids()) & {c.activation_id for c in calls}
    replace_victim(lab, victim)
    checked = exactly_once(lab, calls, deadline_s=90.0)
    assert not checked.failures, checked.failures
    assert {i: status_of(r) for i, r in checked.records.items()} == {c.activation_id: SUCCESS for c in calls}, \
        {i: r.get("response") for i, r in checked.records.items()}


def test_an_invoker_killed_after_the_run_but_before_the_record_is_stored_leaves_the_real_result(faulty) -> None:
    """With the store down, finished records wait in the invoker's writer; the invoker dies then. Its redelivered
    messages store the results the journal kept: success records, not "not run again" whisk errors."""
    services, lab = faulty
    victim = sorted(lab.reports())[0]
    action = homed_on(lab, victim, "keep")
    put(lab, action, ACTION_CODE)
    with lab.client() as client:  # warm on its home, so the runs below end within a second
        assert call(client, action, 0, blocking=True).status == 200
    calls = invoke_all(lab, action, 1.0, KILLED)
    services.stop_store()  # the runs go on (the action is cached); their records cannot be stored
    try:
        ids = {c.activation_id for c in calls if c.activation_id}
        wait_recorded(lab, ids, deadline_s=20.0)
        ran = set(lab.recorder.ids()) if lab.recorder is not None else set()
        assert ids <= ran, "the actions did not run while the store was down"
        lab.kill(victim)  # well inside the writer's retries (about 2.6 s)
    finally:
        services.start_store()
    lab.add_invoker()  # in its place, for the tests after (an invoker starts only with its store up)
    checked = exactly_once(lab, calls, deadline_s=90.0)
    assert not checked.failures, checked.failures
    results = {i: (status_of(r), (r.get("response") or {}).get("result")) for i, r in checked.records.items()}
    assert results == {i: (SUCCESS, {"ok": True}) for i in ids}, results
    assert any(LOGS_LOST in line for r in checked.records.values() for line in r.get("logs", [])), \
        "no record came from the journal (did the victim store them before it died?)"


def test_the_platform_answers_after_the_faults(faulty) -> None:
    """The last check of the module: the lab's deployment still serves a blocking call."""
    _, lab = faulty
    put(lab, "after", ACTION_CODE)
    with lab.client() as client:
        result = client.post("/api/v1/namespaces/_/actions/after", params={"blocking": "true", "result": "true"},
                             json={"s": 0})
    assert result.status_code == 200 and result.json() == {"ok": True}, result.text
    assert isinstance(result, httpx.Response)
