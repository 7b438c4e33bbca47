"""``/metrics`` on the real stack: a controller with two gunicorn workers and an invoker serving its own, scraped
during invokes and read with the client library's own parser (issue 19, item 1).

The controller's workers each count in files of the controller's directory (prometheus_client's multiprocess
mode); the test sends each invoke on a connection of its own until both workers have counted some, then checks
that a scrape, whichever worker answers it, sums exactly the invokes sent. The invoker's counts, histograms and
start kinds rise by as much; a 429 is counted with its throttle and namespace; a scrape without the token is
refused on both. The scrapes are left in the test's log folder (``controller.metrics``, ``invoker.metrics``).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.stack import GUEST_AUTH, RunningStack, free_port, new_run_id, squall, stack_env, start_stack
from config.settings import InvokerSettings
from tests.integration.helpers import put_action
from tests.integration.test_standalone import Standalone
from workers.factories.process import process_root

pytestmark = pytest.mark.integration

TOKEN = "integration-metrics-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
MAX_INVOKES = 40
"""Invokes sent, at most, until both controller workers have counted some (each on a new connection, which the
kernel hands to either worker's socket: two in a row go to the same one half the time)."""
COUNTED_DEADLINE_S = 15.0
"""The invoker counts an activation once its record is stored, just after the blocking caller was answered."""

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


@dataclass
class Metered:
    stack: RunningStack
    invoker_url: str
    throttled: tuple[str, str]  # the key of a namespace allowed no invocation at all


@pytest.fixture
def metered(couchdb_url: str, tmp_path: Path) -> Iterator[Metered]:
    invoker_port = free_port()
    env = stack_env(os.environ, couchdb_url, new_run_id(), free_port(), {
        "SQUALL_CONTROLLER_WORKERS": "2",
        "SQUALL_CONTROLLER_THREADS": "8",
        "SQUALL_INVOKER_THREADS": "2",
        "SQUALL_INVOKER_USER_MEMORY_MB": "1024",
        "SQUALL_LIMITS_INVOCATIONS_PER_MINUTE": "1000000",
        "SQUALL_METRICS_TOKEN": TOKEN,
        "SQUALL_METRICS_INVOKER_PORT": str(invoker_port),
    })
    squall(env, "admin", "seed")
    uuid, key = squall(env, "admin", "user", "create", "metered").split(":", 1)
    squall(env, "admin", "limits", "set", "metered", "--invocations-per-minute", "0")
    stack = start_stack(env, tmp_path)
    try:
        yield Metered(stack, f"http://127.0.0.1:{invoker_port}", (uuid, key))
    finally:
        stack.stop()


def scrape(url: str, headers: dict[str, str] | None = None) -> tuple[str, Samples]:
    """One scrape on a connection of its own (so any controller worker may answer it), parsed."""
    response = httpx.get(f"{url}/metrics", headers=BEARER if headers is None else headers, timeout=10)
    assert response.status_code == 200, response.text
    found: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return response.text, found


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def counted(url: str, name: str, expected: float, **labels: str) -> tuple[str, Samples]:
    """A scrape once ``name`` with ``labels`` reached ``expected`` (or the deadline passed)."""
    deadline = time.monotonic() + COUNTED_DEADLINE_S
    while True:
        text, samples = scrape(url)
        if value(samples, name, **labels) >= expected or time.monotonic() > deadline:
            return text, samples
        time.sleep(0.1)  # polling: the last record lands just after its caller was answered


def counting_workers(controller_pid: int) -> set[int]:
    """The controller's workers that have counted something: each maps a ``counter_<its pid>.db`` of the
    controller's directory once it counts."""
    found = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            parent = int(Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[1])
            maps = Path(f"/proc/{entry.name}/maps").read_text() if parent == controller_pid else ""
        except (OSError, IndexError, ValueError):  # a process that ended meanwhile
            continue
        if f"/counter_{entry.name}.db" in maps:
            found.add(int(entry.name))
    return found


def test_every_worker_is_counted_and_the_invoker_counts_what_it_ran(metered: Metered) -> None:
    stack = metered.stack
    labels = {"namespace": "guest", "kind": "python:3"}
    # One connection per request: Connection: close makes the kernel pick a worker's socket for each.
    with httpx.Client(base_url=stack.url, auth=GUEST_AUTH, timeout=60, headers={"Connection": "close"}) as api:
        put_action(api, "hello", "def main(args):\n    return {'n': args.get('n')}\n", kind="python:3")
        sent = 0
        while sent < MAX_INVOKES and (sent < 6 or len(counting_workers(stack.controller.pid)) < 2):
            answer = api.post("/api/v1/namespaces/_/actions/hello", params={"blocking": "true", "result": "true"},
                              json={"n": sent})
            assert answer.status_code == 200 and answer.json() == {"n": sent}, answer.text
            sent += 1
        assert len(counting_workers(stack.controller.pid)) == 2, f"one worker served all {sent} invokes"

        throttled = httpx.post(f"{stack.url}/api/v1/namespaces/_/actions/hello", auth=metered.throttled, json={},
                               timeout=10)
        assert throttled.status_code == 429, throttled.text

    # Whichever worker answers a scrape, it sums both workers' counts.
    for _ in range(4):
        controller_text, controller = scrape(stack.url)
        assert value(controller, "squall_activations_accepted_total", **labels) == sent
        assert value(controller, "squall_throttled_requests_total", reason="invocations", namespace="metered") == 1

    # The invoker: its counts rise by what it ran, once each record is stored.
    invoker_text, invoker = counted(metered.invoker_url, "squall_activations_total", sent, status="success", **labels)
    assert value(invoker, "squall_activations_total", status="success", **labels) == sent
    assert value(invoker, "squall_activation_duration_seconds_count", **labels) == sent
    assert value(invoker, "squall_activation_wait_seconds_count", **labels) == sent
    starts = {kind: value(invoker, "squall_activation_starts_total", start=kind, **labels)
              for kind in ("cold", "prewarm", "warm")}
    assert sum(starts.values()) == sent
    # Each cold or prewarm start is one /init; invoked one after the other, most reuse the first container.
    assert starts["cold"] + starts["prewarm"] == value(invoker, "squall_activation_init_seconds_count", **labels) >= 1
    assert starts["warm"] >= sent // 2
    # Read at the scrape: the action's warm container, the queue (empty), the writer (idle).
    name = stack.invoker_name
    assert value(invoker, "squall_pool_containers", invoker=name, state="idle") >= 1
    assert value(invoker, "squall_pool_memory_used_bytes", invoker=name) >= 256 * 1_048_576
    assert invoker["squall_invoker_queue_messages"] == {(("invoker", name),): 0}
    assert value(invoker, "squall_records_pending", invoker=name) == 0
    assert value(invoker, "squall_dead_letters_total") == 0
    assert value(invoker, "process_resident_memory_bytes") > 0

    # Without the token, neither answers.
    for url in (stack.url, metered.invoker_url):
        for headers in ({}, {"Authorization": "Bearer not-the-metrics-token-at-all"}):
            refused = httpx.get(f"{url}/metrics", headers=headers, timeout=10)
            assert refused.status_code == 401, (url, refused.text)
            assert set(refused.json()) == {"error", "code"}

    # A sequence's own record is counted where its steps ran (here, the invoker), beside its components'.
    with httpx.Client(base_url=stack.url, auth=GUEST_AUTH, timeout=60) as api:
        created = api.put("/api/v1/namespaces/_/actions/hello-twice", params={"overwrite": "true"},
                          json={"exec": {"kind": "sequence", "components": ["/guest/hello", "/guest/hello"]}})
        assert created.status_code == 200, created.text
        answer = api.post("/api/v1/namespaces/_/actions/hello-twice", params={"blocking": "true"}, json={"n": 1})
        assert answer.status_code == 200, answer.text
    sequence = {"namespace": "guest", "kind": "sequence", "status": "success"}
    _, invoker = counted(metered.invoker_url, "squall_activations_total", 1, **sequence)
    assert value(invoker, "squall_activations_total", **sequence) == 1
    _, invoker = counted(metered.invoker_url, "squall_activations_total", sent + 2, status="success", **labels)
    assert value(invoker, "squall_activations_total", status="success", **labels) == sent + 2  # its components

    (stack.logs / "controller.metrics").write_text(controller_text)
    (stack.logs / "invoker.metrics").write_text(invoker_text)


def test_standalone_serves_its_in_process_invoker_s_metrics_with_its_own(tmp_path: Path) -> None:
    instance = Standalone(tmp_path / "data", "process")
    instance.env = {"SQUALL_METRICS_TOKEN": TOKEN}
    labels = {"namespace": "guest", "kind": "python:3"}
    try:
        instance.start()
        with instance.client() as api:
            put_action(api, "hello", "def main(args):\n    return {}\n", kind="python:3")
            for _ in range(2):
                answer = api.post("/api/v1/namespaces/_/actions/hello", params={"blocking": "true"}, json={})
                assert answer.status_code == 200, answer.text
            created = api.put("/api/v1/namespaces/_/actions/once", json={"exec": {"kind": "sequence",
                                                                                 "components": ["/guest/hello"]}})
            assert created.status_code == 200, created.text
            answer = api.post("/api/v1/namespaces/_/actions/once", params={"blocking": "true"}, json={})
            assert answer.status_code == 200, answer.text
        _, samples = counted(instance.url, "squall_activations_total", 3, status="success", **labels)
        assert value(samples, "squall_activations_total", status="success", **labels) == 3  # the invoker's
        sequence = {"namespace": "guest", "kind": "sequence", "status": "success"}
        _, samples = counted(instance.url, "squall_activations_total", 1, **sequence)
        assert value(samples, "squall_activations_total", **sequence) == 1  # the sequence's own record
        assert value(samples, "squall_activations_accepted_total", **labels) == 2  # the controller's (direct)
        assert value(samples, "squall_pool_containers", invoker=instance.name, state="idle") >= 1
        assert samples["squall_invoker_queue_messages"] == {(("invoker", instance.name),): 0}  # all started
        assert value(samples, "process_resident_memory_bytes") > 0
        assert httpx.get(f"{instance.url}/metrics", timeout=10).status_code == 401
    finally:
        if instance.process is not None and instance.process.poll() is None:
            instance.stop()
        shutil.rmtree(process_root(InvokerSettings(name=instance.name)), ignore_errors=True)
