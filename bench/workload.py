"""What is measured through the REST API: warm latency, closed-loop throughput, cold starts, and the check
that every accepted activation has its stored record."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from bench.client import ApiClient, ApiError, timed

NOOP = "def main(args):\n    return {}\n"
Tick = Callable[[int], None]
STEM_CELL_ANNOTATIONS = ("stemCell", "prewarmed", "prewarm")
"""Annotation keys an invoker may use to say a prewarmed container served the activation."""


def _noop(_: int) -> None:
    return None


def action_path(name: str) -> str:
    return f"/api/v1/namespaces/_/actions/{name}"


def put_action(client: ApiClient, name: str, memory_mb: int | None = None, kind: str = "python:default",
               code: str = NOOP) -> None:
    body: dict[str, Any] = {"exec": {"kind": kind, "code": code}}
    if memory_mb is not None:
        body["limits"] = {"memory": memory_mb}
    client.json("PUT", action_path(name), body, overwrite="true")


def warm_latency(url: str, auth: str, name: str, n: int, tick: Tick = _noop, warmup: int = 5) -> list[float]:
    """``n`` sequential blocking invokes (``result=true``) after ``warmup`` unmeasured ones; ms each."""
    client = ApiClient(url, auth)
    try:
        for _ in range(warmup):
            client.json("POST", action_path(name), {}, blocking="true", result="true")
        samples = []
        for _ in range(n):
            status, raw, ms = timed(client, "POST", action_path(name), {}, blocking="true", result="true")
            if status != 200:
                raise ApiError(status, raw, "warm blocking invoke")
            samples.append(ms)
            tick(1)
        return samples
    finally:
        client.close()


def web_latency(url: str, auth: str, name: str, n: int, tick: Tick = _noop, warmup: int = 5) -> list[float]:
    """``n`` sequential anonymous GETs of action ``name`` as a ``.json`` web action (made one here) after
    ``warmup`` unmeasured ones; ms each. Measured beside ``warm_latency``: the same no-op, through the web route."""
    owner = ApiClient(url, auth)
    try:
        namespace = owner.json("GET", "/api/v1/namespaces")[0]
        action = owner.json("GET", action_path(name), code="false")
        annotations = [a for a in action.get("annotations", []) if a["key"] != "web-export"]
        owner.json("PUT", action_path(name), {"annotations": [*annotations, {"key": "web-export", "value": True}]},
                   overwrite="true")
    finally:
        owner.close()
    client = ApiClient(url, "")
    path = f"/api/v1/web/{namespace}/default/{name}.json"
    try:
        for _ in range(warmup):
            client.request("GET", path)
        samples = []
        for _ in range(n):
            status, raw, ms = timed(client, "GET", path)
            if status != 200:
                raise ApiError(status, raw, "warm web action GET")
            samples.append(ms)
            tick(1)
        return samples
    finally:
        client.close()


@dataclass
class LoadResult:
    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    activation_ids: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    timeline: list[int] = field(default_factory=list)  # requests completed in each second of the run

    @property
    def completed(self) -> int:
        return len(self.latencies_ms)

    @property
    def per_s(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0


def closed_loop(url: str, auth: str, name: str, clients: int, seconds: float, *, blocking: bool,
                tick: Tick = _noop) -> LoadResult:
    """``clients`` threads each invoking back to back for ``seconds``. Blocking: 200 counts; non-blocking:
    202 counts and its activation id is kept (an id is an activation the controller accepted).
    Run it once unmeasured first so the invoker has its containers (a warm-up)."""
    query = {"blocking": "true", "result": "true"} if blocking else {}
    ok_status = 200 if blocking else 202
    lock = threading.Lock()
    result = LoadResult(clients, seconds)
    finished_at: list[float] = []
    start_barrier = threading.Barrier(clients + 1)
    t0 = 0.0

    def one_client() -> None:
        client = ApiClient(url, auth)
        mine: list[float] = []
        ids: list[str] = []
        ends: list[float] = []
        statuses: Counter[int] = Counter()
        failures: Counter[str] = Counter()
        start_barrier.wait()
        deadline = t0 + seconds
        try:
            while time.perf_counter() < deadline:
                try:
                    status, raw, ms = timed(client, "POST", action_path(name), {}, **query)
                except OSError as e:
                    failures[type(e).__name__] += 1
                    continue
                statuses[status] += 1
                if status != ok_status:
                    continue
                if not blocking:
                    ids.append(json.loads(raw)["activationId"])
                mine.append(ms)
                ends.append(time.perf_counter())
                tick(1)
        finally:
            client.close()
            with lock:
                result.latencies_ms.extend(mine)
                result.activation_ids.extend(ids)
                result.statuses.update(statuses)
                result.failures.update(failures)
                finished_at.extend(ends)

    threads = [threading.Thread(target=one_client, name=f"bench-client-{i}", daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    t0 = time.perf_counter()
    start_barrier.wait()
    for thread in threads:
        thread.join()
    result.seconds = max(time.perf_counter() - t0, 1e-9)
    buckets = Counter(int(end - t0) for end in finished_at)
    result.timeline = [buckets.get(second, 0) for second in range(max(int(result.seconds), 1))]  # whole seconds
    return result


# --- cold starts ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColdSample:
    ms: float  # what the client saw for the blocking invoke
    wait_ms: int | None  # the activation's waitTime: controller receipt to a container ready for /init
    init_ms: int | None  # initTime: absent means a warm container was used (not a cold start at all)
    stem_cell: bool | None  # a prewarmed container served it; None when that cannot be told

    def to_dict(self) -> dict[str, Any]:
        return {"ms": round(self.ms, 2), "waitTime": self.wait_ms, "initTime": self.init_ms,
                "stemCell": self.stem_cell}


def cold_starts(url: str, auth: str, prefix: str, n: int, memory_mb: int, kind: str, *, pause_s: float = 0.0,
                started_for: Callable[[str], bool] | None = None, tick: Tick = _noop) -> list[ColdSample]:
    """``n`` first invokes of fresh actions (so no warm container can serve them), ``pause_s`` apart
    (time for an invoker to replenish prewarmed containers).

    Whether a prewarmed container served one: the invoker's annotation when it gives one, else whether
    ``started_for(action name)`` finds no container started for that action (a stem cell is started before
    its action is known, so it carries no action label)."""
    client = ApiClient(url, auth)
    samples = []
    try:
        for i in range(n):
            if pause_s:
                time.sleep(pause_s)  # pacing the samples, not synchronising anything
            name = f"{prefix}-{memory_mb}-{i}"
            put_action(client, name, memory_mb=memory_mb, kind=kind)
            status, raw, ms = timed(client, "POST", action_path(name), {}, blocking="true")
            if status != 200:
                raise ApiError(status, raw, "cold blocking invoke")
            annotations = {a["key"]: a.get("value") for a in json.loads(raw).get("annotations", [])}
            said = next((bool(annotations[k]) for k in STEM_CELL_ANNOTATIONS if k in annotations), None)
            if said is None and started_for is not None and annotations.get("initTime") is not None:
                said = not started_for(name)
            samples.append(ColdSample(ms, annotations.get("waitTime"), annotations.get("initTime"), said))
            tick(1)
    finally:
        client.close()
    return samples


def containers_started_for(invoker: str | None) -> Callable[[str], bool]:
    """``started_for(action)``: whether Docker has a container labelled for that action (and invoker)."""
    import docker

    def started_for(action: str) -> bool:
        labels = [f"squall.action={action}"] + ([f"squall.invoker={invoker}"] if invoker else [])
        client = docker.from_env()
        try:
            return bool(client.containers.list(all=True, filters={"label": labels}))
        finally:
            client.close()

    return started_for


# --- records ---------------------------------------------------------------------------------------------


class RecordFinder(Protocol):
    def stored(self, activation_ids: list[str]) -> set[str]:
        """Which of these activations have a stored record."""


class CouchRecords:
    """Asks CouchDB directly (``_all_docs`` by key): exact, and cheap for tens of thousands of ids."""

    CHUNK = 2000

    def __init__(self, couchdb_url: str, prefix: str, namespace: str) -> None:
        self._url = f"{couchdb_url.rstrip('/')}/{prefix}activations/_all_docs"
        self._namespace = namespace
        self._http = httpx.Client(timeout=120.0, headers={"Accept": "application/json"})

    def stored(self, activation_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(activation_ids), self.CHUNK):
            keys = [f"{self._namespace}/{aid}" for aid in activation_ids[i:i + self.CHUNK]]
            response = self._http.post(self._url, json={"keys": keys})
            response.raise_for_status()
            for row in response.json().get("rows", []):
                value = row.get("value")
                if "error" not in row and isinstance(value, dict) and not value.get("deleted"):
                    found.add(row["key"].split("/", 1)[1])
        return found

    def count(self) -> int:
        """Documents in the activations database: one cheap request, to see a backlog drain."""
        response = self._http.get(self._url.rsplit("/", 1)[0])
        response.raise_for_status()
        return int(response.json().get("doc_count", 0))

    def close(self) -> None:
        self._http.close()


class ApiRecords:
    """Asks the REST API: pages through the action's activation list (the list reads the store, never the
    result backend, so a listed activation has its record)."""

    PAGE = 200

    def __init__(self, url: str, auth: str, action: str) -> None:
        self._client = ApiClient(url, auth)
        self._action = action

    def stored(self, activation_ids: list[str]) -> set[str]:
        wanted = set(activation_ids)
        count = self._client.json("GET", "/api/v1/namespaces/_/activations", name=self._action, count="true")
        listed: set[str] = set()
        if count.get("activations", 0) == 0:
            return listed
        skip = 0
        while True:
            page = self._client.json("GET", "/api/v1/namespaces/_/activations", name=self._action,
                                     limit=str(self.PAGE), skip=str(skip))
            listed.update(a["activationId"] for a in page)
            if len(page) < self.PAGE:
                break
            skip += self.PAGE
        return listed & wanted

    def close(self) -> None:
        self._client.close()


def await_records(finder: RecordFinder, activation_ids: list[str], *, stall_s: float, poll_s: float = 1.0,
                  tick: Tick = _noop) -> tuple[set[str], float]:
    """Poll until every id has its record, or no new record appeared for ``stall_s`` (the invokers may
    still be working through a backlog); returns the ids still missing and how long the wait took.

    With a finder that can count (CouchDB), the backlog is first waited out by counting, which costs the
    store one cheap request per poll instead of a lookup of every missing id."""
    start = time.monotonic()
    count = getattr(finder, "count", None)
    if count is not None:
        before, last_change = count(), time.monotonic()
        previous = before
        while time.monotonic() - last_change < min(stall_s, 5 * poll_s):
            time.sleep(poll_s)  # polling the store while records land
            now = count()
            if now != previous:
                tick(max(0, min(now, before + len(activation_ids)) - max(previous, before)))
                previous, last_change = now, time.monotonic()
            if now - before >= len(activation_ids):
                break
    missing = set(activation_ids)
    last_progress = time.monotonic()
    while missing:
        found = finder.stored(sorted(missing))
        if found:
            missing -= found
            last_progress = time.monotonic()
            if count is None:
                tick(len(found))
        if not missing or time.monotonic() - last_progress > stall_s:
            break
        time.sleep(poll_s)  # polling the store while records land
    return missing, time.monotonic() - start
