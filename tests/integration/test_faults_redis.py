"""Redis, the result backend and the shared state, taken down under load on the real parts (``bench.faults``): every
blocking caller is answered 200 or 202 within its wait, nothing accepted is lost or run twice, and blocking calls
get their results again within seconds of Redis's return. Also the blocking wait itself against a real Redis."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from celery import Celery, states

from app.core.entities import Activation, Status
from tasks.dispatch import CeleryDispatcher

pytestmark = pytest.mark.integration

DOWN_S = 15.0
RECOVERY_S = 5.0
"""Blocking calls sent after Redis is back get their results within this."""


def _finished(activation_id: str) -> Activation:
    return Activation.ended(namespace="guest", name="a", version="0.0.1", subject="guest",
                            activation_id=activation_id, start=1, end=2, status=Status.SUCCESS, result={"ok": 1})


def test_a_blocking_wait_wakes_on_the_result_and_a_published_one_is_read_at_once(redis_url: str) -> None:
    celery = Celery("squall-test", broker="memory://", backend=redis_url, set_as_current=False)
    celery.conf.update(result_serializer="json", accept_content=["json"])
    dispatcher = CeleryDispatcher(celery, ("unused",))
    waiting, done = "a" * 24 + f"{time.time_ns() % 10**8:08d}", "b" * 24 + f"{time.time_ns() % 10**8:08d}"
    celery.backend.store_result(done, _finished(done).to_api(), states.SUCCESS)
    timer = threading.Timer(0.3, lambda: celery.backend.store_result(waiting, _finished(waiting).to_api(),
                                                                       states.SUCCESS))
    timer.start()
    started = time.monotonic()
    found = dispatcher.wait(waiting, 10)
    assert found is not None and found.activation_id == waiting and time.monotonic() - started < 5
    already = dispatcher.wait(done, 10)
    assert already is not None and already.result == {"ok": 1}
    peeked = dispatcher.peek(done)
    assert peeked is not None and peeked.activation_id == done
    started = time.monotonic()
    assert dispatcher.wait("c" * 32, 0.5) is None and time.monotonic() - started < 1.5
    celery.backend.forget(waiting)
    celery.backend.forget(done)


def test_redis_down_under_load_answers_every_blocking_call_in_time_and_loses_nothing(tmp_path: Path) -> None:
    from bench.faults import fault_lab, run_scenario
    from bench.lab import unavailable

    reason = unavailable()
    if reason:
        pytest.skip(reason)
    with fault_lab(tmp_path, invokers=2) as (services, lab):
        outcome = run_scenario(services, lab, "redis", DOWN_S)
    print(outcome.line())
    for example in outcome.examples:
        print(f"    e.g. {example}")
    assert outcome.accepted > 0 and outcome.lost == 0 and outcome.twice == 0, outcome.line()
    assert outcome.late == 0 and outcome.client_errors == 0 and outcome.wrong_status == 0, outcome.line()
    assert outcome.recovery_s is not None and outcome.recovery_s <= RECOVERY_S, outcome.line()
    assert outcome.whisk_errors == 0, outcome.line()
