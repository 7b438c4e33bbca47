"""The invoker against the real Docker Engine and the real python:3 runtime image.

The stores are dict-backed implementations of our own ports (not CouchDB mocks); everything else is
real: containers, the action proxy, json-file logs. Every container a test starts carries this run's
invoker label and is removed at teardown.
"""

from __future__ import annotations

import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.core.entities import Status, annotation
from config.settings import Settings
from tests.integration.docker_harness import Harness, docker_client, make_settings
from workers.factories.docker import DockerContainerFactory
from workers.logs import DEVELOPER_ERROR_WARNING

pytestmark = pytest.mark.integration
__all__ = ["docker_client"]  # a fixture, used by name


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def harness(docker_client, settings):
    factory = DockerContainerFactory(settings.invoker, settings.controller.api_host)
    h = Harness(settings, factory)
    try:
        yield h
    finally:
        h.invoker.close()
        factory.cleanup()
        assert h.containers() == []
        factory.close()


HELLO = """
import os
def main(args):
    print("hello", args.get("name"))
    return {"greeting": "Hello " + args.get("name", "stranger"),
            "ns": os.environ.get("__OW_NAMESPACE"), "action": os.environ.get("__OW_ACTION_NAME"),
            "api_host": os.environ.get("__OW_API_HOST"), "id": os.environ.get("__OW_ACTIVATION_ID")}
"""


def test_success_then_warm_reuse(harness):
    action = harness.action(HELLO)
    first_msg = harness.message(action, {"name": "Ada"})
    first = harness.invoke(first_msg)

    assert first.status == Status.SUCCESS, first.result
    assert first.result["greeting"] == "Hello Ada"
    assert first.result["ns"] == "guest"
    assert first.result["action"] == "/guest/act"
    assert first.result["api_host"] == harness.settings.controller.api_host
    assert first.result["id"] == first_msg.activation_id
    assert annotation(first.annotations, "path") == "guest/act"
    assert annotation(first.annotations, "kind") == "python:3"
    assert annotation(first.annotations, "timeout") is False
    assert annotation(first.annotations, "limits")["memory"] == 256
    assert annotation(first.annotations, "initTime") is not None
    assert annotation(first.annotations, "waitTime") >= 0
    assert len(first.logs) == 1 and first.logs[0].endswith(" stdout: hello Ada")
    assert first.logs[0][30] == " " and first.logs[0][:4].isdigit()
    # The result was published before the record (with its logs) was stored.
    assert harness.published[0]["response"]["result"] == first.result
    assert harness.stored_when_published == [False]
    stored = harness.activations.docs[f"guest/{first.activation_id}"]
    assert stored["logs"] == first.logs and stored["response"]["statusCode"] == 0

    started = time.perf_counter()
    second = harness.invoke(harness.message(action, {"name": "Bob"}))
    warm_ms = (time.perf_counter() - started) * 1000
    assert second.status == Status.SUCCESS and second.result["greeting"] == "Hello Bob"
    assert annotation(second.annotations, "initTime") is None
    assert len(harness.containers()) == 1
    print(f"\ncold start: initTime {annotation(first.annotations, 'initTime')} ms, "
          f"duration {first.duration} ms; warm invoke {warm_ms:.1f} ms (duration {second.duration} ms)")


ANSWERED_THEN_TIMED_OUT = {
    "python:3": ("import sys, time\n"
                 "def main(args):\n    print('run', args['n'])\n    print('err', args['n'], file=sys.stderr)\n"
                 "    sys.stdout.flush()\n    time.sleep(args.get('sleep', 0))\n    return {'n': args['n']}\n"),
    "nodejs:18": ("function main(args) {\n  console.log('run', args.n);\n  console.error('err', args.n);\n"
                  "  const ms = (args.sleep || 0) * 1000;\n"
                  "  return new Promise((resolve) => setTimeout(() => resolve({n: args.n}), ms));\n}\n"),
}


@pytest.mark.parametrize("kind", sorted(ANSWERED_THEN_TIMED_OUT))
def test_answered_runs_bring_their_lines_and_a_timed_out_one_gets_its_own_from_the_engine(harness, kind):
    """Squall's proxies send each answered run's lines with the answer, so the engine's file is not read
    (the cursor stays at its start); a run that times out in the same container has no answer, and its lines
    are the file's last ones after the sentinels (workers/logs.py)."""
    action = harness.action(ANSWERED_THEN_TIMED_OUT[kind], timeout_ms=1500, kind=kind)
    for n in (1, 2):
        answered = harness.invoke(harness.message(action, {"n": n}))
        assert answered.status == Status.SUCCESS
        assert sorted(line.split(": ", 1)[1] for line in answered.logs) == [f"err {n}", f"run {n}"]
    (pooled,) = harness.pool._containers.values()
    assert (pooled.cursor.inline, pooled.cursor.offset) == (True, 0)
    slow = harness.invoke(harness.message(action, {"n": 3, "sleep": 30}))
    assert annotation(slow.annotations, "timeout") is True
    assert sorted(line.split(": ", 1)[1] for line in slow.logs[:-1]) == ["err 3", "run 3"]
    assert slow.logs[-1].endswith(f"stderr: {DEVELOPER_ERROR_WARNING}")


def test_raise_is_an_application_error_and_keeps_the_container(harness):
    action = harness.action("def main(args):\n    raise ValueError('boom')\n")
    first = harness.invoke(harness.message(action))
    assert first.status == Status.APPLICATION_ERROR
    assert "boom" in first.result["error"]
    assert any("ValueError" in line for line in first.logs)
    second = harness.invoke(harness.message(action))
    assert second.status == Status.APPLICATION_ERROR
    assert annotation(second.annotations, "initTime") is None  # reused warm


def test_non_dict_result_is_a_developer_error_and_destroys_the_container(harness):
    action = harness.action("def main(args):\n    return 42\n")
    activation = harness.invoke(harness.message(action))
    assert activation.status == Status.DEVELOPER_ERROR
    assert activation.result == {"error": "The action did not return a dictionary or array."}
    assert harness.containers() == []


def test_init_failure_is_a_developer_error(harness):
    action = harness.action("def main(args):\n    return {\n")
    activation = harness.invoke(harness.message(action))
    assert activation.status == Status.DEVELOPER_ERROR
    assert activation.result["error"]
    assert annotation(activation.annotations, "initTime") is not None
    assert harness.containers() == []


def test_timeout_destroys_the_container_and_the_next_call_works(harness):
    code = ("import time\n"
            "def main(args):\n    time.sleep(args.get('sleep', 0))\n    return {'slept': args.get('sleep', 0)}\n")
    action = harness.action(code, timeout_ms=1000)
    started = time.monotonic()
    slow = harness.invoke(harness.message(action, {"sleep": 30}))
    assert time.monotonic() - started < 10
    assert slow.status == Status.DEVELOPER_ERROR
    assert slow.result == {"error": "The action exceeded its time limits of 1000 milliseconds."}
    assert annotation(slow.annotations, "timeout") is True
    assert slow.logs[-1].endswith(f"stderr: {DEVELOPER_ERROR_WARNING}")
    assert harness.containers() == []

    quick = harness.invoke(harness.message(action, {"sleep": 0}))
    assert quick.status == Status.SUCCESS and quick.result == {"slept": 0}
    assert annotation(quick.annotations, "initTime") is not None  # a new container


def test_ten_thousand_lines_are_collected_in_order(harness):
    action = harness.action("def main(args):\n    for i in range(10000):\n        print('line', i)\n    return {}\n")
    activation = harness.invoke(harness.message(action))
    assert activation.status == Status.SUCCESS
    assert len(activation.logs) == 10_000
    assert activation.logs[0].endswith("stdout: line 0")
    assert activation.logs[-1].endswith("stdout: line 9999")


def test_logs_over_the_limit_are_truncated(harness):
    action = harness.action("def main(args):\n    for i in range(3000):\n        print('x' * 1000)\n    return {}\n",
                            logs_mb=1)
    activation = harness.invoke(harness.message(action))
    assert activation.status == Status.SUCCESS
    assert activation.logs[-1].endswith(
        "stderr: Logs were truncated because the total bytes size exceeds the limit of 1048576 bytes.")
    assert 1000 < len(activation.logs) < 1100
    # The collection went on to the sentinels: the next activation's logs are its own.
    again = harness.invoke(harness.message(harness.action("def main(a):\n    print('mine')\n    return {}\n",
                                                          name="other")))
    assert [line.split(": ", 1)[1] for line in again.logs] == ["mine"]


def test_redelivered_message_is_not_run_again(harness):
    action = harness.action(HELLO)
    msg = harness.message(action, {"name": "Ada"})
    first = harness.invoke(msg)
    again = harness.invoke(msg)
    assert again.activation_id == first.activation_id and again.result == first.result
    assert len(harness.activations.docs) == 1


def test_docker_unreachable_records_a_whisk_error_quickly(settings):
    dead = f"unix:///tmp/squall-no-docker-{secrets.token_hex(4)}.sock"
    factory = DockerContainerFactory(settings.invoker, settings.controller.api_host,
                                     environment={"DOCKER_HOST": dead})
    h = Harness(settings, factory)
    try:
        action = h.action(HELLO)
        started = time.monotonic()
        activation = h.invoke(h.message(action))
        assert time.monotonic() - started < 5
        assert activation.status == Status.WHISK_ERROR
        assert activation.result == {"error": "Failed to provision resources to run the action."}
        assert h.activations.docs[f"guest/{activation.activation_id}"]["response"]["statusCode"] == 3
        assert h.published[0]["response"]["status"] == "whisk internal error"
    finally:
        h.invoker.close()
        factory.close()


def test_concurrent_activations_share_the_memory_bound(docker_client, settings):
    settings = settings.replace(invoker={"user_memory_mb": 512})
    factory = DockerContainerFactory(settings.invoker, settings.controller.api_host)
    h = Harness(settings, factory)
    try:
        action = h.action("import time\ndef main(args):\n    time.sleep(0.3)\n    return {'ok': True}\n")
        messages = [h.message(action) for _ in range(4)]
        with ThreadPoolExecutor(4) as executor:
            activations = list(executor.map(h.invoke, messages))
        assert [a.status for a in activations] == [Status.SUCCESS] * 4
        # 512 MB holds two 256 MB containers: two cold starts, the other two waited and ran warm.
        assert sum(annotation(a.annotations, "initTime") is not None for a in activations) == 2
        assert len(h.containers()) == 2
    finally:
        h.invoker.close()
        factory.cleanup()
        factory.close()


FLOOD = ("def main(args):\n    for i in range(args.get('n', 6000)):\n        print(str(i) + ' ' + 'z' * 1000)\n"
         "    return {}\n")


def test_a_log_flood_keeps_at_most_two_rotated_files_on_disk(docker_client):
    settings = make_settings(log_file_mb=2)
    factory = DockerContainerFactory(settings.invoker, settings.controller.api_host)
    h = Harness(settings, factory)
    try:
        flood = h.invoke(h.message(h.action(FLOOD, logs_mb=1)))  # about 6 MB of output through a 2 MB file
        assert flood.status == Status.SUCCESS
        assert sum(line.endswith("exceeds the limit of 1048576 bytes.") for line in flood.logs) == 1
        path = docker_client.api.inspect_container(h.containers()[0]["Id"])["LogPath"]
        on_disk = sum(os.path.getsize(p) for p in (path, path + ".1") if os.path.exists(p))
        assert on_disk <= 2 * 2 * 1024 * 1024 + 64 * 1024, f"{on_disk} bytes of logs on disk"
        again = h.invoke(h.message(h.entities_action("act"), {"n": 3}))  # the same container, its file rotated
        assert [line.split(": ", 1)[1][:5] for line in again.logs] == ["0 zzz", "1 zzz", "2 zzz"]
    finally:
        h.close()


WRITER = """
import errno, os
def main(args):
    found = {}
    try:
        open('/etc/squall-test', 'w').write('x')
        found['root'] = 'written'
    except OSError as e:
        found['root'] = errno.errorcode.get(e.errno, str(e.errno))
    written = 0
    try:
        with open('/tmp/fill', 'wb') as f:
            while written < 1536 * 1024 * 1024:
                f.write(b'\\0' * (1 << 20))
                f.flush()
                written += 1 << 20
    except OSError as e:
        found['tmp'] = errno.errorcode.get(e.errno, str(e.errno))
    found['written_mb'] = written >> 20
    return found
"""


def test_an_action_cannot_write_its_image_nor_more_than_its_memory_to_tmp(harness):
    activation = harness.invoke(harness.message(harness.action(WRITER, memory_mb=256)))
    if activation.status == Status.SUCCESS:
        assert activation.result["root"] == "EROFS", activation.result
        assert activation.result["tmp"] == "ENOSPC" and activation.result["written_mb"] <= 256, activation.result
    else:  # the tmpfs counts against the memory limit: the container may be killed for memory first
        assert activation.result == {"error": "The action exhausted its memory and was aborted."}, activation.result
