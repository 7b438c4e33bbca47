"""``concurrentInvocations`` through the real stack (controller, RabbitMQ, invoker, Docker, CouchDB, Redis): a
namespace's override set with ``squall admin limits``, OpenWhisk's 429 past it, and the slot given back when the
activation ends (its result, its timeout), when a controller could not publish it, when it was lost (its deadline),
and across two controllers; a slot held by an activation whose invoker was killed: ``test_invoker_killed``.

The suite's stack raises the deployment's limit (``conftest``); each test makes a namespace of its own with a
small override."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from bench.stack import free_port, squall, start, stop, wait_ready
from tests.integration.conftest import Stack
from tests.integration.helpers import invoke, put_action, wait_for_record

pytestmark = pytest.mark.integration

SLOW = "import time\n\ndef main(args):\n    time.sleep(args.get('s', 3))\n    return {'slept': args.get('s', 3)}\n"
QUICK = "def main(args):\n    return {'ok': True}\n"
IN_FLIGHT_DEADLINE_S = 60.0


def refusal(count: int, allowed: int) -> str:
    return f"Too many concurrent requests in flight (count: {count}, allowed: {allowed})."


def namespace_with_limit(stack: Stack, name: str, allowed: int) -> tuple[str, str]:
    """A new namespace whose concurrentInvocations is ``allowed``, and its key."""
    uuid, key = squall(stack.env, "admin", "user", "create", name).split(":", 1)
    squall(stack.env, "admin", "limits", "set", name, "--concurrent-invocations", str(allowed))
    return uuid, key


def in_flight_key(stack: Stack, namespace: str) -> str:
    """The namespace's set of activations in flight in Redis (keys carry the deployment's database prefix)."""
    return f"{stack.env['SQUALL_COUCHDB_PREFIX']}:squall:inflight:{namespace}"


def redis_now_ms(client: redis.Redis) -> int:
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000


def test_past_the_limit_429_until_the_activations_complete(stack: Stack, unique: str, redis_url: str) -> None:
    namespace = f"cc{unique}"
    auth = namespace_with_limit(stack, namespace, 2)
    assert squall(stack.env, "admin", "limits", "get", namespace) == '{"concurrentInvocations": 2}'
    with stack.client(auth=auth) as api:
        limits = api.get("/api/v1/namespaces/_/limits").json()
        assert limits["concurrentInvocations"] == 2 and limits["maxActionInstances"] == 2
        put_action(api, "slow", SLOW)
        running = [invoke(api, "slow", {"s": 3}) for _ in range(2)]
        assert [r.status_code for r in running] == [202, 202]
        refused = invoke(api, "slow", {"s": 3})
        assert refused.status_code == 429, refused.text
        body = refused.json()
        assert body == {"error": refusal(2, 2), "code": refused.headers["X-Request-ID"]}
        print(f"\n429 body: {refused.text}")
        blocking = invoke(api, "slow", blocking="true")
        assert blocking.status_code == 429 and blocking.json()["error"] == refusal(2, 2)
        with stack.client() as guest:  # everyone else keeps the deployment's limit
            put_action(guest, f"{unique}-quick", QUICK)
            assert invoke(guest, f"{unique}-quick").status_code == 202
        for answer in running:  # released on completion
            assert wait_for_record(api, answer.json()["activationId"])["response"]["status"] == "success"
        again = [invoke(api, "slow", {"s": 0}, blocking="true", result="true") for _ in range(3)]
        assert [(a.status_code, a.json()) for a in again] == [(200, {"slept": 0})] * 3
    # The room each refused invoke reserved on the invoker, in the slot's round trip, was given back.
    reserved = f"squall:cluster:{stack.env['SQUALL_COUCHDB_PREFIX']}:reserved:{stack.invoker_name}"
    client = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 10.0
        while client.hmget(reserved, "mb", "n") not in ([b"0", b"0"], [None, None]):
            assert time.monotonic() < deadline, client.hgetall(reserved)
            time.sleep(0.1)  # polling for the last activation's release
    finally:
        client.close()


def test_an_activation_that_times_out_gives_its_slot_back(stack: Stack, unique: str) -> None:
    auth = namespace_with_limit(stack, f"ct{unique}", 1)
    with stack.client(auth=auth) as api:
        put_action(api, "stuck", SLOW, limits={"timeout": 1000})
        aid = invoke(api, "stuck", {"s": 30}).json()["activationId"]
        assert invoke(api, "stuck", {"s": 30}).json()["error"] == refusal(1, 1)
        record = wait_for_record(api, aid)
        assert record["response"]["status"] == "action developer error"
        assert {"key": "timeout", "value": True} in record["annotations"]
        put_action(api, "quick", QUICK)
        answer = invoke(api, "quick", blocking="true", result="true")
        assert answer.status_code == 200 and answer.json() == {"ok": True}, answer.text


def test_a_lost_activation_stops_counting_at_its_deadline(stack: Stack, unique: str, redis_url: str) -> None:
    namespace = f"cl{unique}"
    auth = namespace_with_limit(stack, namespace, 1)
    client = redis.Redis.from_url(redis_url)
    key = in_flight_key(stack, namespace)
    try:
        with stack.client(auth=auth) as api:
            put_action(api, "quick", QUICK)
            # An activation whose end nobody will report (its message lost) and whose deadline has come.
            client.zadd(key, {"0" * 32: redis_now_ms(client) - 1})
            answer = invoke(api, "quick", blocking="true", result="true")
            assert answer.status_code == 200, answer.text
            # The same key, with a deadline ahead: the controller counts it.
            client.zadd(key, {"1" * 32: redis_now_ms(client) + 60_000})
            assert invoke(api, "quick").json()["error"] == refusal(1, 1)
            client.zrem(key, "1" * 32)  # as the invoker that ran it would at its end
            assert invoke(api, "quick", blocking="true").status_code == 200
    finally:
        client.delete(key)
        client.close()


def test_a_sequences_components_count_in_flight(stack: Stack, unique: str, redis_url: str) -> None:
    namespace = f"cs{unique}"
    auth = namespace_with_limit(stack, namespace, 2)
    client = redis.Redis.from_url(redis_url)
    try:
        with stack.client(auth=auth) as api:
            put_action(api, "slow", SLOW)
            seq = api.put("/api/v1/namespaces/_/actions/seq",
                          json={"exec": {"kind": "sequence", "components": ["/_/slow"]}})
            assert seq.status_code == 200, seq.text
            seq_id = invoke(api, "seq", {"s": 4}).json()["activationId"]
            deadline = time.monotonic() + IN_FLIGHT_DEADLINE_S
            while client.zcard(in_flight_key(stack, namespace)) < 1:  # the composition step publishes it
                assert time.monotonic() < deadline, "the component was never counted"
                time.sleep(0.05)
            assert invoke(api, "slow", {"s": 4}).status_code == 202  # 1 in flight (the component) < 2
            assert invoke(api, "slow").json()["error"] == refusal(2, 2)
            assert invoke(api, "seq").json()["error"] == refusal(2, 2)  # a sequence starts only below the limit
            assert wait_for_record(api, seq_id)["response"]["status"] == "success"
    finally:
        client.close()


@pytest.fixture
def second_controller(stack: Stack, tmp_path: Path) -> Iterator[str]:
    """Another controller of the same deployment (same Redis, broker, database and invoker)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "controller-2.log"
    process = start({**stack.env, "SQUALL_CONTROLLER_PORT": str(port)}, log, "controller")

    def up() -> bool:
        try:
            return httpx.get(url + "/ping", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_ready(up, "second controller", [process], log)
        yield url
    finally:
        stop(process)


def test_two_controllers_share_the_count(stack: Stack, unique: str, second_controller: str) -> None:
    auth = namespace_with_limit(stack, f"c2{unique}", 1)
    with stack.client(auth=auth) as first, \
            httpx.Client(base_url=second_controller, auth=auth, timeout=90.0) as second:
        put_action(first, "slow", SLOW)
        aid = invoke(first, "slow", {"s": 3}).json()["activationId"]
        refused = invoke(second, "slow")
        assert refused.status_code == 429 and refused.json()["error"] == refusal(1, 1)
        wait_for_record(first, aid)
        answer = invoke(second, "slow", {"s": 0}, blocking="true", result="true")
        assert answer.status_code == 200 and answer.json() == {"slept": 0}, answer.text
