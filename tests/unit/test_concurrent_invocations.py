"""The ``concurrentInvocations`` throttle's pure parts and its in-process count: OpenWhisk's message and arithmetic,
deadlines that keep a lost activation from holding a slot, the runner releasing what it ran, and the composition
service counting components without refusing them."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.entities import Activation, ActivationMessage, Status
from app.core.errors import Invalid, StoreError, Throttled, Unavailable
from app.core.limits import FIELDS, NamespaceLimits, check_concurrent, in_flight_ttl_ms, parse_overrides
from app.state.inflight import MemoryInFlight
from workers.completion import ActivationRunner
from workers.invoker import TryLater

pytestmark = pytest.mark.unit


def test_the_message_and_the_arithmetic_are_openwhisks() -> None:
    check_concurrent(29, 30)  # room for the current request
    with pytest.raises(Throttled) as refused:
        check_concurrent(30, 30)
    assert refused.value.message == "Too many concurrent requests in flight (count: 30, allowed: 30)."
    with pytest.raises(Throttled, match=r"\(count: 0, allowed: 0\)\.$"):
        check_concurrent(0, 0)  # a limit of 0 refuses every invoke


def test_an_activation_counts_at_most_twice_its_timeout_of_at_least_a_minute_plus_a_minute() -> None:
    assert in_flight_ttl_ms(100) == 180_000  # OpenWhisk's completion-ack timeout: 2 × max(t, 1 min) + 1 min
    assert in_flight_ttl_ms(60_000) == 180_000
    assert in_flight_ttl_ms(300_000) == 660_000


def test_concurrent_invocations_is_a_namespace_override_like_the_others() -> None:
    assert FIELDS["concurrentInvocations"] == "concurrent_invocations"
    defaults = NamespaceLimits(60, 60, 30)
    assert NamespaceLimits(60, 60) == defaults  # OpenWhisk's default, 30
    assert defaults.overridden({"concurrentInvocations": 2}).concurrent_invocations == 2
    assert defaults.overridden({"concurrentInvocations": -1}) == defaults
    assert defaults.to_api()["concurrentInvocations"] == 30
    assert parse_overrides({"concurrentInvocations": 0}) == {"concurrentInvocations": 0}
    with pytest.raises(Invalid, match="concurrentInvocations must be a whole number of at least 0"):
        parse_overrides({"concurrentInvocations": 1.5})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_acquire_counts_adds_under_the_limit_only_and_release_gives_the_slot_back() -> None:
    inflight = MemoryInFlight(Clock())
    assert [inflight.acquire("ns", f"a{n}", 60_000, 2) for n in range(3)] == [0, 1, 2]
    assert inflight.count("ns") == 2  # the third was refused: not added
    assert inflight.count("other") == 0  # each namespace counts apart
    inflight.release("ns", "a0")
    inflight.release("ns", "a0")  # twice: harmless
    inflight.release("ns", "never-added")
    assert inflight.acquire("ns", "a3", 60_000, 2) == 1
    assert inflight.acquire("ns", "a4", 60_000, None) == 2  # unconditional (a sequence's component)
    assert inflight.count("ns") == 3


def test_an_activation_never_released_stops_counting_at_its_deadline() -> None:
    clock = Clock()
    inflight = MemoryInFlight(clock)
    inflight.acquire("ns", "lost", 1_000, 1)  # its invoker lost it: nobody will release it
    inflight.acquire("ns", "late", 5_000, None)
    assert inflight.acquire("ns", "refused", 1_000, 1) == 2
    clock.now += 1.0
    assert inflight.count("ns") == 1  # "lost" is past its deadline
    clock.now += 4.0
    assert inflight.acquire("ns", "next", 1_000, 1) == 0


class StandInInvoker:
    """Ends each message at once with the outcome a test chose, or does not start it (``TryLater``)."""

    def __init__(self, status: Status = Status.SUCCESS, later: bool = False) -> None:
        self.status_of_run = status
        self.later = later

    def invoke(self, message: ActivationMessage, publish: Any, notes: Any = None) -> Activation:
        if self.later:
            raise TryLater("the journal cannot be reached")
        return Activation.ended(namespace=message.namespace, name="a", version="0.0.1", subject="s",
                                activation_id=message.activation_id, start=1, end=2, status=self.status_of_run,
                                result={"error": "The action exceeded its time limits of 100 milliseconds."})

    def status(self) -> dict[str, Any]:
        return {"name": "me"}


def message(activation_id: str, namespace: str = "ns") -> ActivationMessage:
    return ActivationMessage(activation_id=activation_id, transaction_id="t", namespace=namespace, subject="s",
                             action=f"{namespace}/a", revision="1-x", content={}, blocking=False, received_ms=1)


@pytest.mark.parametrize("status", [Status.SUCCESS, Status.DEVELOPER_ERROR, Status.WHISK_ERROR])
def test_the_runner_releases_every_activation_that_ends_whatever_its_outcome(status: Status) -> None:
    inflight = MemoryInFlight()
    inflight.acquire("ns", "a" * 32, 60_000, 1)
    runner = ActivationRunner(StandInInvoker(status), follow_ups=None, inflight=inflight)  # type: ignore[arg-type]
    runner.run(message("a" * 32), lambda doc: None)
    assert inflight.count("ns") == 0


class SharedCount(MemoryInFlight):
    """An in-flight count that, like Redis', leaves each release for the next round trip (it is applied here only
    when that round trip goes out: the publish that got it succeeds)."""

    def __init__(self) -> None:
        super().__init__()
        self.released_now = 0

    def release_later(self, namespace: str, activation_id: str) -> tuple[str, ...]:
        return ("ZREM", namespace, activation_id)

    def release(self, namespace: str, activation_id: str) -> None:
        self.released_now += 1
        super().release(namespace, activation_id)


class PublishingInvoker(StandInInvoker):
    """Publishes its result with the journal's write, as ``Invoker`` does for an activation that ran."""

    def invoke(self, message: ActivationMessage, publish: Any, notes: Any = None) -> Activation:
        activation = super().invoke(message, publish, notes)
        publish(activation.to_api(), ("SET", "kept", "doc"))
        return activation


def test_a_shared_release_travels_with_the_result_after_the_journal_write() -> None:
    inflight = SharedCount()
    inflight.acquire("ns", "a" * 32, 60_000, 1)
    runner = ActivationRunner(PublishingInvoker(), follow_ups=None, inflight=inflight)  # type: ignore[arg-type]
    sent: list[tuple[Any, ...]] = []

    def publish(doc: Any, *writes: Any) -> None:
        sent.extend(writes)
        for write in writes:  # the round trip goes out: apply it
            if write[0] == "ZREM":
                MemoryInFlight.release(inflight, write[1], write[2])

    runner.run(message("a" * 32), publish)
    assert sent == [("SET", "kept", "doc"), ("ZREM", "ns", "a" * 32)]  # the record is kept before the slot goes
    assert inflight.count("ns") == 0 and inflight.released_now == 0  # one round trip, no second release


def test_a_release_whose_round_trip_failed_is_made_at_the_end() -> None:
    inflight = SharedCount()
    inflight.acquire("ns", "a" * 32, 60_000, 1)
    runner = ActivationRunner(PublishingInvoker(), follow_ups=None, inflight=inflight)  # type: ignore[arg-type]

    def publish(doc: Any, *writes: Any) -> None:
        raise ConnectionError("Redis went away")

    with pytest.raises(ConnectionError):  # (``Invoker`` logs a failed publish; this stand-in lets it through)
        runner.run(message("a" * 32), publish)
    assert inflight.released_now == 1 and inflight.count("ns") == 0


def test_a_message_put_back_for_later_keeps_its_slot() -> None:
    inflight = MemoryInFlight()
    inflight.acquire("ns", "a" * 32, 60_000, 1)
    runner = ActivationRunner(StandInInvoker(later=True), follow_ups=None,  # type: ignore[arg-type]
                              inflight=inflight)
    with pytest.raises(Unavailable):
        runner.run(message("a" * 32), lambda doc: None)
    assert inflight.count("ns") == 1  # still to run: still in flight


def test_components_are_counted_never_refused_and_given_back_when_not_published() -> None:
    from app.core.compositions import Invoke
    from app.core.services.compositions import CompositionService

    class Publisher:
        fail = False

        def publish(self, msg: ActivationMessage) -> None:
            if self.fail:
                raise Unavailable()

    inflight = MemoryInFlight()
    inflight.acquire("ns", "x" * 32, 60_000, 1)  # the namespace is at its limit of 1
    publisher = Publisher()
    service = CompositionService(None, None, publisher, None, inflight=inflight)  # type: ignore[arg-type]
    service._apply(Invoke(message("c" * 32), timeout_ms=1_000), "tid")
    assert inflight.count("ns") == 2  # counted, though over the limit: the composition was admitted
    publisher.fail = True
    with pytest.raises(Unavailable):
        service._apply(Invoke(message("d" * 32)), "tid")
    assert inflight.count("ns") == 2  # not published, so not in flight


def test_an_unreachable_count_fails_open_for_components() -> None:
    from app.core.compositions import Invoke
    from app.core.services.compositions import CompositionService

    class Away(MemoryInFlight):
        def acquire(self, namespace: str, activation_id: str, ttl_ms: int, allowed: int | None) -> int:
            raise StoreError("activations in flight: Redis is unreachable")

    published: list[str] = []

    class Publisher:
        def publish(self, msg: ActivationMessage) -> None:
            published.append(msg.activation_id)

    service = CompositionService(None, None, Publisher(), None, inflight=Away())  # type: ignore[arg-type]
    service._apply(Invoke(message("c" * 32)), "tid")
    assert published == ["c" * 32]
