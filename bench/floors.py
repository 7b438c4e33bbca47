"""The floors: what the parts Squall is built from cost on the same services, measured bare.

* a Celery round trip (``send_task`` then ``get``) to a no-op task on a private queue, same settings, with the
  worker's CPU per task while ``clients`` threads call it (the share of an activation's CPU an invoker cannot
  avoid while it is a Celery worker);
* a Celery publish alone (with publisher confirms), the cost a non-blocking invoke cannot avoid, with the
  publishing process's CPU per message (the controller's share of every activation's CPU that is the publish);
* a Flask hop under the controller's gunicorn settings, with the server's CPU per request (the controller's
  share of an activation's CPU that no Squall code adds to);
* a ``/run`` into a warm container over a keep-alive ``http.client`` connection, with the caller's CPU per call
  (the invoker's share that is talking to the container);
* a Docker create + start until ``/init`` answers (a cold start with nothing of Squall in it), and
  ``/init`` + ``/run`` into a started container (what a prewarmed container still costs).
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.client import ApiClient, timed
from bench.floor_servers import NOOP_TASK
from bench.processes import cpu_seconds
from bench.stack import free_port, stop, wait_ready
from bench.workload import NOOP

Tick = Callable[[int], None]
PROXY_PORT = 8080
FLOOR_LABEL = "squall.invoker"
CPU_HOPS = 1000
"""Flask hops the floor server's CPU per request is measured over (about a second)."""


def _noop(_: int) -> None:
    return None


@contextmanager
def floor_process(env: Mapping[str, str], log: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "bench.floor_servers", *args], env=dict(env),
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        yield process
    finally:
        stop(process)


# --- Celery -----------------------------------------------------------------------------------------------


def celery_floors(env: Mapping[str, str], logs: Path, settings: Any, *, n: int, clients: int, seconds: float,
                  run_id: str, tick: Tick = _noop) -> dict[str, Any]:
    """Sequential round trips, round trips from ``clients`` threads, and publishes alone from ``clients``."""
    from kombu import Connection

    from tasks.celery_app import make_celery

    queue = f"benchfloor{run_id}"
    log = logs / "floor-celery.log"
    app = make_celery(settings)
    with floor_process(env, log, "celery", queue) as worker:
        wait_ready(lambda: "ready." in log.read_text(errors="replace"), "floor celery worker", [worker], log)

        def round_trip() -> float:
            start = time.perf_counter()
            app.send_task(NOOP_TASK, queue=queue).get(timeout=30, disable_sync_subtasks=False)
            return (time.perf_counter() - start) * 1000

        for _ in range(5):
            round_trip()
        sequential = []
        for _ in range(n):
            sequential.append(round_trip())
            tick(1)
        before = cpu_seconds(worker.pid)
        parallel = _threads(clients, seconds, round_trip, tick)
        worker_cpu_s = cpu_seconds(worker.pid) - before
    # Publishes alone go to a queue nobody consumes, deleted afterwards.
    sink = f"benchsink{run_id}"

    def publish() -> float:
        start = time.perf_counter()
        app.send_task(NOOP_TASK, queue=sink, ignore_result=True)
        return (time.perf_counter() - start) * 1000

    try:
        # Only the publishing threads run in this process meanwhile (the progress line aside): its CPU is theirs.
        before_s = time.process_time()
        published = _threads(clients, seconds, publish, tick)
        publish_cpu_s = time.process_time() - before_s
    finally:
        with Connection(settings.broker.url) as conn:
            conn.default_channel.queue_delete(sink)
            conn.default_channel.queue_delete(queue)
        app.close()
    return {"round_trip": sequential, "parallel": parallel, "publish": published,
            "worker_cpu_ms_per_task": round(1000 * worker_cpu_s / max(len(parallel["latencies"]), 1), 3),
            "publish_cpu_ms_per_message": round(1000 * publish_cpu_s / max(len(published["latencies"]), 1), 3)}


def _threads(clients: int, seconds: float, call: Callable[[], float], tick: Tick) -> dict[str, Any]:
    """Run ``call`` back to back in ``clients`` threads for ``seconds``: latencies and the rate."""
    lock = threading.Lock()
    samples: list[float] = []
    barrier = threading.Barrier(clients + 1)
    t0 = 0.0

    def loop() -> None:
        mine = []
        barrier.wait()
        while time.perf_counter() < t0 + seconds:
            mine.append(call())
            tick(1)
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    t0 = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    return {"latencies": samples, "seconds": elapsed, "per_s": len(samples) / elapsed}


# --- Flask under gunicorn --------------------------------------------------------------------------------


def flask_floor(env: Mapping[str, str], logs: Path, *, n: int, tick: Tick = _noop) -> tuple[list[float], float]:
    """``n`` sequential hops: their latencies, and the server's CPU per hop (its master and workers) in ms."""
    port = free_port()
    log = logs / "floor-flask.log"
    url = f"http://127.0.0.1:{port}"
    with floor_process(env, log, "flask", str(port)) as server:
        def up() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
            except OSError:
                return False

        wait_ready(up, "floor gunicorn", [server], log)
        client = ApiClient(url, "bench:floor")
        try:
            for _ in range(20):
                client.request("POST", "/hop", {})
            samples = []
            for _ in range(n):
                samples.append(timed(client, "POST", "/hop", {})[2])
                tick(1)
            # The server's CPU over hops enough for the kernel's 10 ms accounting ticks not to matter (a smoke
            # run's few latency samples alone measured 0).
            before = cpu_seconds(server.pid)
            for _ in range(CPU_HOPS):
                client.request("POST", "/hop", {})
            return samples, round(1000 * (cpu_seconds(server.pid) - before) / CPU_HOPS, 3)
        finally:
            client.close()


# --- Docker and the action proxy -------------------------------------------------------------------------


class _Proxy:
    """A bare keep-alive ``http.client`` connection to one container's proxy."""

    def __init__(self, host: str) -> None:
        self.conn = http.client.HTTPConnection(host, PROXY_PORT, timeout=30)

    def post(self, path: str, payload: dict[str, Any]) -> int:
        self.conn.request("POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        response = self.conn.getresponse()
        response.read()
        return response.status

    def connect_until_up(self, deadline_s: float = 30.0) -> None:
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                self.conn.connect()
                assert self.conn.sock is not None
                self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.001)  # the proxy is booting: retry the connect, as the invoker does

    def close(self) -> None:
        self.conn.close()


INIT = {"value": {"name": "floor", "main": "main", "binary": False, "code": NOOP, "env": {}}}
RUN = {"value": {}, "namespace": "guest", "action_name": "/guest/floor", "activation_id": "0" * 32,
       "transaction_id": "floor", "deadline": "0"}


STEM_CELL_SETTLE_S = 1.0


class DockerFloors:
    """Containers of the runtime image, labelled so a crash leaves nothing ``remove_containers`` misses."""

    def __init__(self, image: str, label: str, network: str = "bridge", memory_mb: int = 256) -> None:
        import docker

        self._client = docker.from_env()
        self._api = self._client.api
        self._image = image
        self._label = label
        self._network = network
        self._memory_mb = memory_mb

    def _start(self) -> tuple[str, str]:
        api = self._api
        host_config = api.create_host_config(mem_limit=f"{self._memory_mb}m", network_mode=self._network)
        created = api.create_container(self._image, labels={FLOOR_LABEL: self._label}, host_config=host_config)
        api.start(created["Id"])
        info = api.inspect_container(created["Id"])
        settings = info["NetworkSettings"]
        address = ((settings.get("Networks") or {}).get(self._network) or {}).get("IPAddress") \
            or settings.get("IPAddress")
        return created["Id"], address

    def _remove(self, container_id: str) -> None:
        self._api.remove_container(container_id, force=True)

    def cold(self, n: int, tick: Tick = _noop) -> list[float]:
        """create + start + inspect, then ``/init`` as soon as the proxy accepts: ms each."""
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            container_id, address = self._start()
            proxy = _Proxy(address)
            try:
                proxy.connect_until_up()
                status = proxy.post("/init", INIT)
                samples.append((time.perf_counter() - start) * 1000)
                if status != 200:
                    raise RuntimeError(f"/init answered {status}")
            finally:
                proxy.close()
                self._remove(container_id)
            tick(1)
        return samples

    def prewarmed(self, n: int, tick: Tick = _noop) -> list[float]:
        """``/init`` + ``/run`` into a container that is started and listening (a stem cell's cost)."""
        samples = []
        for _ in range(n):
            container_id, address = self._start()
            proxy = _Proxy(address)
            try:
                proxy.connect_until_up()
                # A stem cell waits in the pool before an activation takes it: by then its proxy's launcher has
                # booted. Timed at once, this floor measured that boot too (21.9 ms, above the prewarm hit it bounds).
                time.sleep(STEM_CELL_SETTLE_S)
                start = time.perf_counter()
                proxy.post("/init", INIT)
                proxy.post("/run", RUN)
                samples.append((time.perf_counter() - start) * 1000)
            finally:
                proxy.close()
                self._remove(container_id)
            tick(1)
        return samples

    def warm_run(self, n: int, tick: Tick = _noop) -> tuple[list[float], float]:
        """``/run`` after ``/init`` into one container, keep-alive: ms each, and the caller's CPU per call in ms
        (this thread's own clock: the container's CPU is not the invoker's)."""
        container_id, address = self._start()
        proxy = _Proxy(address)
        try:
            proxy.connect_until_up()
            proxy.post("/init", INIT)
            for _ in range(20):
                proxy.post("/run", RUN)
            samples = []
            cpu_start = time.thread_time()
            for _ in range(n):
                start = time.perf_counter()
                proxy.post("/run", RUN)
                samples.append((time.perf_counter() - start) * 1000)
                tick(1)
            return samples, round(1000 * (time.thread_time() - cpu_start) / max(n, 1), 3)
        finally:
            proxy.close()
            self._remove(container_id)

    def close(self) -> None:
        self._client.close()
