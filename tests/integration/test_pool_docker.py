"""The container pool, limits and hostile actions against the real Docker Engine and python:3 image.

Each test has its own invoker name (so its own container labels) and removes what it started.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from app.core.entities import Status, annotation
from app.core.manifest import RuntimeManifest
from config.settings import Settings
from tests.integration.docker_harness import Harness, docker_client, make_settings
from workers.factories.base import ContainerSpec
from workers.factories.docker import (
    LABEL_ACTION,
    LABEL_INVOKER,
    LABEL_KIND,
    LABEL_NAMESPACE,
    LABEL_PREWARM,
    DockerContainerFactory,
)
from workers.invoker import OOM
from workers.startup import stem_cell_specs

pytestmark = pytest.mark.integration
__all__ = ["docker_client"]  # a fixture, used by name

WAIT_S = 30.0
HELLO = "def main(args):\n    return {'hello': args.get('name', 'world')}\n"
WHO = "import os\ndef main(args):\n    return {'host': os.environ['HOSTNAME']}\n"
SLEEP = ("import time\n"
         "def main(args):\n    time.sleep(args.get('sleep', 0))\n    return {'at': time.time()}\n")


def make(settings: Settings, **kwargs: Any) -> Harness:
    return Harness(settings, DockerContainerFactory(settings.invoker, settings.controller.api_host), **kwargs)


@pytest.fixture
def harnesses(docker_client) -> Iterator[list[Harness]]:
    made: list[Harness] = []
    yield made
    for h in made:
        h.close()
        assert h.containers() == []


@pytest.fixture
def harness(harnesses) -> Harness:
    h = make(make_settings())
    harnesses.append(h)
    return h


def wait_until(pool_cond: threading.Condition, predicate: Any) -> None:
    with pool_cond:
        assert pool_cond.wait_for(predicate, WAIT_S)


# --- reuse, prewarm, eviction, run buffer, idle removal -----------------------------------------------


def test_warm_reuse_has_no_init_time(harness):
    action = harness.action(WHO)
    first = harness.invoke(harness.message(action))
    second = harness.invoke(harness.message(action))
    assert annotation(first.annotations, "initTime") is not None
    assert annotation(second.annotations, "initTime") is None
    assert first.result == second.result  # the same container
    assert len(harness.containers()) == 1


def test_first_invoke_of_a_new_action_takes_a_stem_cell(harnesses):
    settings = make_settings()
    manifest = RuntimeManifest.load(settings.runtimes.manifest_path)
    stems = stem_cell_specs(manifest)
    assert stems, "the manifest asks for python stem cells"
    h = make(settings, stem_cells=stems)
    harnesses.append(h)
    assert h.pool.wait_prewarmed(WAIT_S)
    prewarmed = {c["Id"][:12] for c in h.containers(**{LABEL_PREWARM: "true"})}
    assert len(prewarmed) == sum(cell.count for cell in stems)

    activation = h.invoke(h.message(h.action(WHO, name="brandnew")))
    assert activation.status == Status.SUCCESS
    assert activation.result["host"] in prewarmed  # ran in a stem cell: no container started for it
    assert annotation(activation.annotations, "initTime") is not None  # a stem cell still needs /init
    assert h.containers(**{LABEL_ACTION: "brandnew"}) == []
    assert h.pool.wait_prewarmed(WAIT_S)  # and the stem cell was replaced in the background
    assert len(h.containers()) == len(prewarmed) + 1


def test_memory_pressure_evicts_the_least_recently_used_idle_container(harnesses):
    h = make(make_settings(user_memory_mb=512))
    harnesses.append(h)
    a, b, c = (h.action(WHO, name=n) for n in ("a", "b", "c"))
    host_a = h.invoke(h.message(a)).result["host"]
    host_b = h.invoke(h.message(b)).result["host"]
    h.invoke(h.message(c))  # no memory left: a, the least recently used, goes
    hosts = {x["Id"][:12] for x in h.containers()}
    assert host_a not in hosts and host_b in hosts and len(hosts) == 2
    again = h.invoke(h.message(a))
    assert annotation(again.annotations, "initTime") is not None  # evicted: a cold start


def test_run_buffer_serves_waiting_runs_in_arrival_order(harnesses):
    h = make(make_settings(user_memory_mb=256))
    harnesses.append(h)
    holder, first, second = (h.action(SLEEP, name=n) for n in ("holder", "first", "second"))
    with ThreadPoolExecutor(3) as executor:
        held = executor.submit(h.invoke, h.message(holder, {"sleep": 2}))
        wait_until(h.pool._cond, lambda: h.pool.stats()["busy"] == 1)
        early = executor.submit(h.invoke, h.message(first))
        wait_until(h.pool._cond, lambda: h.pool.stats()["waiting"] == 1)
        late = executor.submit(h.invoke, h.message(second))
        wait_until(h.pool._cond, lambda: h.pool.stats()["waiting"] == 2)
        results = [f.result(WAIT_S) for f in (held, early, late)]
    assert [r.status for r in results] == [Status.SUCCESS] * 3
    assert results[0].result["at"] < results[1].result["at"] < results[2].result["at"]


def test_a_full_pool_waits_for_the_actions_busy_container_instead_of_evicting_another(harnesses):
    h = make(make_settings(user_memory_mb=512))
    harnesses.append(h)
    h.pool._warm_wait_s = WAIT_S  # the default (0.5 s) is about a cold start; a loaded host may take longer
    busy_code = "import os, time\ndef main(args):\n    time.sleep(args.get('sleep', 0))\n" \
                "    return {'host': os.environ['HOSTNAME']}\n"
    a, b = h.action(busy_code, name="a"), h.action(WHO, name="b")
    host_a = h.invoke(h.message(a)).result["host"]
    host_b = h.invoke(h.message(b)).result["host"]  # the pool is full now: a's container and b's, both idle
    with ThreadPoolExecutor(1) as executor:
        held = executor.submit(h.invoke, h.message(a, {"sleep": 1}))
        wait_until(h.pool._cond, lambda: h.pool.stats()["busy"] == 1)
        again = h.invoke(h.message(a))  # waits for a's container rather than evicting b's for a cold start
        assert held.result(WAIT_S).result["host"] == host_a
    assert again.result["host"] == host_a and annotation(again.annotations, "initTime") is None
    assert {x["Id"][:12] for x in h.containers()} == {host_a, host_b}


def test_a_buffered_run_that_outwaits_its_timeout_gets_a_whisk_error(harnesses):
    h = make(make_settings(user_memory_mb=256))
    harnesses.append(h)
    holder = h.action(SLEEP, name="holder")
    impatient = h.action(HELLO, name="impatient", timeout_ms=500)
    with ThreadPoolExecutor(2) as executor:
        held = executor.submit(h.invoke, h.message(holder, {"sleep": 3}))
        wait_until(h.pool._cond, lambda: h.pool.stats()["busy"] == 1)
        waited = h.invoke(h.message(impatient))
        assert held.result(WAIT_S).status == Status.SUCCESS
    assert waited.status == Status.WHISK_ERROR
    assert waited.result == {"error": "Failed to provision resources to run the action: no container memory "
                                      "became free within the action's time limit of 500 milliseconds."}
    assert h.activations.docs[f"guest/{waited.activation_id}"]["response"]["statusCode"] == 3


def test_idle_containers_are_removed_after_the_idle_timeout(harnesses):
    h = make(make_settings(idle_timeout_s=0.5))
    harnesses.append(h)
    h.invoke(h.message(h.action(HELLO)))
    wait_until(h.pool._cond, lambda: h.pool.stats()["reaped"] == 1)
    assert h.containers() == []


def test_pause_policy_pauses_idle_containers_and_unpauses_on_reuse(harnesses):
    h = make(make_settings(idle_policy="pause", pause_grace_s=0.2))
    harnesses.append(h)
    action = h.action(WHO)
    first = h.invoke(h.message(action))
    wait_until(h.pool._cond, lambda: any(p.frozen for p in h.pool._containers.values()))
    (pooled,) = h.pool._containers.values()
    assert h.factory._api().inspect_container(pooled.id)["State"]["Paused"] is True
    second = h.invoke(h.message(action))
    assert second.status == Status.SUCCESS and second.result == first.result
    assert annotation(second.annotations, "initTime") is None


def test_leftover_containers_of_this_invoker_are_removed_at_start(harnesses):
    settings = make_settings()
    crashed = make(settings)  # an earlier run of this invoker that died with containers up
    other = make(make_settings())  # another invoker on the same engine
    harnesses.extend([crashed, other])
    spec = ContainerSpec("squall/action-python-v3:latest", 128, "guest", "left", "python:3")
    crashed.factory.create(spec)
    kept = other.factory.create(spec)
    assert len(crashed.containers()) == 1
    DockerContainerFactory(settings.invoker, settings.controller.api_host).cleanup()  # what a restart does
    assert crashed.containers() == []
    assert [c["Id"] for c in other.containers()] == [kept.id]


def test_containers_are_named_and_labelled_for_their_invoker(harnesses):
    settings = make_settings()
    h = make(settings, stem_cells=stem_cell_specs(RuntimeManifest.load(settings.runtimes.manifest_path)))
    harnesses.append(h)
    assert h.pool.wait_prewarmed(WAIT_S)
    h.invoke(h.message(h.action(HELLO, name="named")))  # takes a stem cell
    h.pool._stem_cells.clear()  # stop replenishing, then force a container of its own
    h.invoke(h.message(h.action(HELLO, name="second", memory_mb=128)))
    name = settings.invoker.name
    own = h.containers(**{LABEL_ACTION: "second"})
    assert len(own) == 1
    opaque = rf"squall_{name}_[0-9a-f]{{6}}_\d+"  # the owner's token and a counter: no tenant, no action
    assert re.fullmatch(opaque, own[0]["Names"][0].lstrip("/"))
    assert own[0]["Labels"][LABEL_INVOKER] == name
    assert own[0]["Labels"][LABEL_NAMESPACE] == "guest" and own[0]["Labels"][LABEL_KIND] == "python:3"
    stems = h.containers(**{LABEL_PREWARM: "true"})
    assert stems and all(re.fullmatch(opaque, c["Names"][0].lstrip("/")) for c in stems)
    assert any(c["Labels"][LABEL_KIND] == "python:3" for c in stems)


# --- limits -------------------------------------------------------------------------------------------


LIMITS = r"""
import os, resource, socket
def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        return repr(e)
def main(args):
    status = dict(line.split(":\t", 1) for line in read("/proc/self/status").splitlines() if ":\t" in line)
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
        raw = "allowed"
    except PermissionError:
        raw = "refused"
    return {"nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
            "pids": read("/sys/fs/cgroup/pids/pids.max"),
            "memory": read("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
            "capeff": status["CapEff"].strip(), "nonewprivs": status["NoNewPrivs"].strip(), "raw": raw}
"""


def test_container_limits_and_privileges(harness):
    activation = harness.invoke(harness.message(harness.action(LIMITS)))
    assert activation.status == Status.SUCCESS, activation.result
    result = activation.result
    assert result["nofile"] == [1024, 1024]
    assert result["pids"] == "1024"
    assert result["memory"] == str(256 * 1024 * 1024)
    capabilities = int(result["capeff"], 16)
    assert not capabilities & (1 << 12), "NET_ADMIN"
    assert not capabilities & (1 << 13), "NET_RAW"
    assert result["nonewprivs"] == "1"
    assert result["raw"] == "refused"


def test_init_and_run_each_get_the_whole_timeout(harness):
    code = "import time\ntime.sleep(2.5)\ndef main(args):\n    time.sleep(2.5)\n    return {'ok': True}\n"
    activation = harness.invoke(harness.message(harness.action(code, timeout_ms=4000)))
    assert activation.status == Status.SUCCESS, activation.result  # 5 s in all; neither step took 4 s


def test_init_timeout_is_recorded_as_such(harness):
    code = "import time\ntime.sleep(30)\ndef main(args):\n    return {}\n"
    activation = harness.invoke(harness.message(harness.action(code, timeout_ms=500)))
    assert activation.status == Status.DEVELOPER_ERROR
    assert activation.result == {"error": "The action exceeded its time limits of 500 milliseconds during "
                                          "initialization."}
    assert harness.containers() == []


def test_result_over_one_megabyte_is_a_truncated_application_error(harness):
    code = "def main(args):\n    return {'big': 'x' * (1024 * 1024 + 10)}\n"
    action = harness.action(code)
    activation = harness.invoke(harness.message(action))
    assert activation.status == Status.APPLICATION_ERROR
    message = activation.result["error"]
    assert message.startswith("The action produced a response that exceeded the allowed length: ")
    assert "> 1048576 bytes. The truncated response was: {\"big\":\"xxx" in message
    assert len(harness.containers()) == 1  # an application error keeps the container


# --- hostile actions ----------------------------------------------------------------------------------


def hostile_beside_a_neighbour(h: Harness, code: str, timeout_ms: int, memory_mb: int = 256, **kwargs: Any):
    """Run a hostile action while another action keeps being served; returns (hostile record, neighbours)."""
    hostile = h.action(code, name="hostile", timeout_ms=timeout_ms, memory_mb=memory_mb, **kwargs)
    neighbour = h.action(HELLO, name="neighbour")
    h.invoke(h.message(neighbour))  # warm, so the neighbour needs no memory while the hostile one runs
    with ThreadPoolExecutor(1) as executor:
        running = executor.submit(h.invoke, h.message(hostile))
        wait_until(h.pool._cond, lambda: h.pool.stats()["busy"] >= 1 or running.done())
        served = [h.invoke(h.message(neighbour, {"name": str(i)})) for i in range(3)]
        record = running.result(120)
    assert [s.status for s in served] == [Status.SUCCESS] * 3
    return record, served


def test_fork_bomb_is_contained(harnesses):
    h = make(make_settings())
    harnesses.append(h)
    code = ("import os\ndef main(args):\n    while True:\n"
            "        try:\n            os.fork()\n        except OSError:\n            pass\n")
    record, _ = hostile_beside_a_neighbour(h, code, timeout_ms=3000, logs_mb=1)
    assert record.status == Status.DEVELOPER_ERROR
    # The pids limit stops the forks; a thousand Pythons may still exhaust 256 MB before the timeout.
    assert record.result["error"] in (OOM, "The action exceeded its time limits of 3000 milliseconds.")
    assert h.containers(**{LABEL_ACTION: "hostile"}) == []
    assert h.invoke(h.message(h.action(HELLO, name="after"))).status == Status.SUCCESS


def test_memory_bomb_is_recorded_as_out_of_memory(harnesses):
    h = make(make_settings())
    harnesses.append(h)
    code = "def main(args):\n    hog = []\n    while True:\n        hog.append(bytearray(8 * 1024 * 1024))\n"
    record, _ = hostile_beside_a_neighbour(h, code, timeout_ms=20_000, memory_mb=128)
    assert record.status == Status.DEVELOPER_ERROR
    assert record.result == {"error": OOM}
    stored = h.activations.docs[f"guest/{record.activation_id}"]
    assert stored["response"]["statusCode"] == 2 and stored["response"]["result"] == {"error": OOM}
    assert h.containers(**{LABEL_ACTION: "hostile"}) == []


def test_log_flood_is_truncated_and_the_invoker_survives(harnesses):
    h = make(make_settings())
    harnesses.append(h)
    code = ("import sys\ndef main(args):\n    line = 'y' * 4095 + '\\n'\n"
            "    for _ in range(8 * 1024):\n        sys.stdout.write(line)\n    return {'done': True}\n")
    record, _ = hostile_beside_a_neighbour(h, code, timeout_ms=60_000, logs_mb=1)
    assert record.status == Status.SUCCESS
    assert record.logs[-1].endswith(
        "stderr: Logs were truncated because the total bytes size exceeds the limit of 1048576 bytes.")
    assert len(record.logs) < 300
    again = h.invoke(h.message(h.action(HELLO, name="hostile", timeout_ms=60_000, logs_mb=1)))
    assert again.status == Status.SUCCESS


def test_infinite_loop_times_out_and_its_container_is_destroyed(harnesses):
    h = make(make_settings())
    harnesses.append(h)
    record, _ = hostile_beside_a_neighbour(h, "def main(args):\n    while True:\n        pass\n", timeout_ms=1500)
    assert record.status == Status.DEVELOPER_ERROR
    assert record.result == {"error": "The action exceeded its time limits of 1500 milliseconds."}
    assert annotation(record.annotations, "timeout") is True
    assert h.containers(**{LABEL_ACTION: "hostile"}) == []


def test_an_action_that_closes_stdout_and_stderr_is_still_recorded(harnesses):
    h = make(make_settings())
    harnesses.append(h)
    code = "import os\ndef main(args):\n    print('before')\n    os.close(1)\n    os.close(2)\n    return {'ok': 1}\n"
    record, _ = hostile_beside_a_neighbour(h, code, timeout_ms=5000)
    assert record.status == Status.SUCCESS and record.result == {"ok": 1}
    assert [line.split(": ", 1)[1] for line in record.logs] == ["before"]  # the proxy's sentinels still came
    # The proxy gives every activation working stdout and stderr again: its next run is as good as the first.
    again = h.invoke(h.message(h.entities_action("hostile")))
    assert again.status == Status.SUCCESS and [line.split(": ", 1)[1] for line in again.logs] == ["before"]
    assert f"guest/{again.activation_id}" in h.activations.docs
    assert h.invoke(h.message(h.action(HELLO, name="after"))).status == Status.SUCCESS


# --- concurrency --------------------------------------------------------------------------------------


NODE_SLOW = """
function main(args) {
  return new Promise(resolve => setTimeout(() => resolve({host: process.env.HOSTNAME}), 1500));
}
"""


def test_concurrent_activations_share_one_container_of_a_concurrent_kind(harnesses):
    settings = make_settings()
    manifest = RuntimeManifest.load(settings.runtimes.manifest_path)
    kinds = [k for family in manifest.families().values() for k in family if manifest.supports_concurrency(k)]
    if not kinds:
        pytest.skip('no kind in runtimes/manifest.json is marked "concurrent" yet (the Node.js one will be)')
    h = make(settings)
    harnesses.append(h)
    action = h.action(NODE_SLOW, name="together", concurrency=3)
    action = h.entities.put_action(replace(action, exec=replace(action.exec, kind=kinds[0])))
    h.invoke(h.message(action))  # warm one container
    with ThreadPoolExecutor(3) as executor:
        records = list(executor.map(h.invoke, [h.message(action) for _ in range(3)]))
    assert [r.status for r in records] == [Status.SUCCESS] * 3, [r.result for r in records]
    assert len({r.result["host"] for r in records}) == 1  # all three ran in the one warm container
    assert len(h.containers(**{LABEL_ACTION: "together"})) == 1
