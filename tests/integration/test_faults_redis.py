"""Redis, the result backend and the shared state, taken down under load on the real parts (``bench.faults``): every
blocking caller is answered 200 or 202 within its wait, nothing accepted is lost or run twice, and blocking calls
get their results again within seconds of Redis's return. Also the blocking wait itself against a real Redis."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from celery import Celery, states

from app.core.entities import Activation, Status
from tasks.dispatch import CeleryDispatcher
from tasks.results import OUTAGE_WAIT_S, REPLY_CHANNEL_PREFIX, ResultListener, hand_back, result_key

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


def _celery(redis_url: str) -> Celery:
    celery = Celery("squall-test", broker="memory://", backend=redis_url, set_as_current=False)
    celery.conf.update(result_serializer="json", accept_content=["json"], result_expires=60)
    return celery


def _id(letter: str) -> str:
    return letter * 24 + f"{time.time_ns() % 10**8:08d}"


def test_the_result_listener_hands_a_reply_to_its_waiter_and_the_key_keeps_it(redis_url: str) -> None:
    celery = _celery(redis_url)
    listener = ResultListener(celery, redis_url, f"{REPLY_CHANNEL_PREFIX}test-{uuid.uuid4().hex}")
    try:
        channel = listener.channel()
        assert channel is not None
        activation_id, other = _id("d"), _id("e")
        listener.expect(activation_id)
        listener.expect(other)
        timer = threading.Timer(0.3, lambda: hand_back(celery, activation_id, _finished(activation_id).to_api(),
                                                           channel))
        timer.start()
        started = time.monotonic()
        found = listener.wait(activation_id, 10)
        assert found is not None and found.activation_id == activation_id and time.monotonic() - started < 5
        assert not listener.expects(activation_id)  # a finished wait leaves nothing behind
        # The reply is also stored under the result key: a later GET /activations/{id} reads it from there.
        peeked = CeleryDispatcher(celery, ("unused",)).peek(activation_id)
        assert peeked is not None and peeked.result == {"ok": 1}
        started = time.monotonic()
        assert listener.wait(other, 0.5) is None and time.monotonic() - started < 1.5  # nobody replied
        celery.backend.forget(activation_id)
    finally:
        listener.close()


@dataclass
class _Listening:
    celery: Celery
    name: str
    listener: ResultListener
    admin: redis.Redis

    def reply_reaches_its_waiter(self, activation_id: str, before_reply: Callable[[], None]) -> None:
        """A waiter registered, ``before_reply`` done, the reply handed back: the waiter gets it."""
        self.listener.expect(activation_id)
        before_reply()
        hand_back(self.celery, activation_id, _finished(activation_id).to_api(), self.name)
        found = self.listener.wait(activation_id, 10)
        assert found is not None and found.activation_id == activation_id
        self.celery.backend.forget(activation_id)


@pytest.fixture
def listening(redis_url: str) -> Iterator[_Listening]:
    """A subscribed listener on a channel of its own, and a plain client to meddle with Redis."""
    celery = _celery(redis_url)
    name = f"{REPLY_CHANNEL_PREFIX}test-{uuid.uuid4().hex}"
    listener = ResultListener(celery, redis_url, name)
    admin = redis.Redis.from_url(redis_url)
    try:
        assert listener.channel() == name
        yield _Listening(celery, name, listener, admin)
    finally:
        listener.close()
        admin.close()


def test_the_result_listener_outlives_messages_that_are_not_results(listening: _Listening) -> None:
    def junk() -> None:
        for message in (b"not json", b"[1, 2]", b'{"task_id": null}', b"\xff\xfe", b"{" * 10_000):
            assert listening.admin.publish(listening.name, message) == 1

    listening.reply_reaches_its_waiter(_id("j"), junk)


def test_a_reply_published_while_the_listener_was_cut_off_is_read_once_it_is_back(listening: _Listening) -> None:
    def cut_off() -> None:
        # Cut the listener off, so that the reply goes out while nobody is subscribed: the message itself is lost.
        admin = listening.admin
        mine = [c["id"] for c in admin.client_list(_type="pubsub") if c.get("name") == listening.name]
        assert len(mine) == 1
        assert admin.client_kill_filter(_id=mine[0]) == 1
        assert admin.publish("unrelated", "x") == 0  # let Redis finish closing before the reply goes out

    listening.reply_reaches_its_waiter(_id("f"), cut_off)


def test_the_result_listener_gives_up_within_the_outage_wait_when_redis_is_away() -> None:
    from tests.conftest import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    celery = _celery(dead)
    listener = ResultListener(celery, dead, f"{REPLY_CHANNEL_PREFIX}test-dead")
    try:
        started = time.monotonic()
        assert listener.channel() is None  # the caller waits the per-request way instead
        assert time.monotonic() - started < 2.0
        activation_id = _id("g")
        listener.expect(activation_id)
        started = time.monotonic()
        assert listener.wait(activation_id, 30) is None
        assert time.monotonic() - started < OUTAGE_WAIT_S + 1.0
    finally:
        listener.close()


def test_a_hand_back_wakes_a_per_request_wait_on_its_key_and_an_unwaited_one_is_only_kept(redis_url: str) -> None:
    celery = _celery(redis_url)
    dispatcher = CeleryDispatcher(celery, ("unused",))
    waiting, kept = _id("h"), _id("i")
    timer = threading.Timer(0.3, lambda: hand_back(celery, waiting, _finished(waiting).to_api(),
                                                   result_key(celery, waiting)))
    timer.start()
    started = time.monotonic()
    found = dispatcher.wait(waiting, 10)  # no listener expects it: the per-request wait (a composition's)
    assert found is not None and found.activation_id == waiting and time.monotonic() - started < 5
    hand_back(celery, kept, _finished(kept).to_api(), None)  # a non-blocking activation's result
    peeked = dispatcher.peek(kept)
    assert peeked is not None and peeked.activation_id == kept
    celery.backend.forget(waiting)
    celery.backend.forget(kept)
