"""What is measured through the REST API: warm latency, closed-loop throughput, cold starts, how many of the
accepted activations have their record stored as time goes on, and the check that every one of them has it."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
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
        return _sequential(client, "POST", action_path(name), {"blocking": "true", "result": "true"}, n, warmup,
                           tick, "warm blocking invoke", body={})
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
    try:
        return _sequential(client, "GET", f"/api/v1/web/{namespace}/default/{name}.json", {}, n, warmup, tick,
                           "warm web action GET")
    finally:
        client.close()


def _sequential(client: ApiClient, method: str, path: str, query: dict[str, str], n: int, warmup: int, tick: Tick,
                what: str, body: Any = None) -> list[float]:
    """``warmup`` unmeasured requests, then ``n`` timed ones that must each answer 200; ms each."""
    for _ in range(warmup):
        client.request(method, path, body, **query)
    samples = []
    for _ in range(n):
        status, raw, ms = timed(client, method, path, body, **query)
        if status != 200:
            raise ApiError(status, raw, what)
        samples.append(ms)
        tick(1)
    return samples


@dataclass
class LoadResult:
    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    activation_ids: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    timeline: list[int] = field(default_factory=list)  # requests completed in each second of the run
    started_at: float = 0.0  # time.perf_counter() when the clients were let go: second 0 of ``timeline``

    @property
    def completed(self) -> int:
        return len(self.latencies_ms)

    @property
    def per_s(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0


def closed_loop(url: str, auth: str, name: str, clients: int, seconds: float, *, blocking: bool,
                tick: Tick = _noop) -> LoadResult:
    """``clients`` threads each invoking back to back for ``seconds``. Blocking: 200 counts; non-blocking:
    202 counts and its activation id is kept (an id is an activation the controller accepted, not one done).
    ``tick(1)`` is called (from the client threads) for each counted answer.
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
    result.started_at = t0
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
                started_for: Callable[[str], bool] | None = None, tick: Tick = _noop,
                code: str = NOOP) -> list[ColdSample]:
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
            put_action(client, name, memory_mb=memory_mb, kind=kind, code=code)
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

    def count(self) -> int:
        """Records stored so far, of these activations and maybe others: a ``RecordSampler`` counts its growth."""

    def counter(self) -> RecordFinder:
        """A twin on a connection of its own, for a thread of its own (a ``RecordSampler``); the caller closes it."""

    def close(self) -> None: ...


class CouchRecords:
    """Asks CouchDB directly (``_all_docs`` by key): exact, and cheap for tens of thousands of ids."""

    CHUNK = 2000

    def __init__(self, couchdb_url: str, prefix: str, namespace: str) -> None:
        self._args = (couchdb_url, prefix, namespace)
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
        """Documents in the activations database (every namespace's): one cheap request, no view to update."""
        response = self._http.get(self._url.rsplit("/", 1)[0])
        response.raise_for_status()
        return int(response.json().get("doc_count", 0))

    def counter(self) -> CouchRecords:
        return CouchRecords(*self._args)

    def close(self) -> None:
        self._http.close()


class ApiRecords:
    """Asks the REST API: pages through the action's activation list (the list reads the store, never the
    result backend, so a listed activation has its record)."""

    PAGE = 200

    def __init__(self, url: str, auth: str, action: str) -> None:
        self._args = (url, auth, action)
        self._client = ApiClient(url, auth)
        self._action = action

    def stored(self, activation_ids: list[str]) -> set[str]:
        wanted = set(activation_ids)
        listed: set[str] = set()
        if self.count() == 0:
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

    def count(self) -> int:
        """The action's stored records: one request (``count=true``), answered from the store."""
        answer = self._client.json("GET", "/api/v1/namespaces/_/activations", name=self._action, count="true")
        return int(answer.get("activations", 0))

    def counter(self) -> ApiRecords:
        return ApiRecords(*self._args)

    def close(self) -> None:
        self._client.close()


_COUNT_ERRORS = (httpx.HTTPError, http.client.HTTPException, ApiError, OSError, ValueError)


@dataclass(frozen=True)
class StoredSample:
    t: float  # seconds since the load began (negative: before it)
    accepted: int  # 202s the clients had received by then
    stored: int  # of those, how many had their record stored


class RecordSampler:
    """How many of the accepted activations have their record stored, over time: from ``start()`` (just
    before the load) to ``stop()`` (once the records are awaited), one ``counter.count()`` every ``poll_s`` in
    a thread of its own, and one more whenever ``sample()`` is called.

    Stored is the count's growth since ``start()``, capped at the 202s received so far (``accept`` is the
    load's tick). With CouchDB's ``doc_count`` that is exact while nothing else writes activations (the
    bench's own stack: at most one record per client of the blocking run before may still land in the first
    moments); on a shared store it is an upper bound. With the API it is the action's own count, exact. The
    sampling asks the store for one number a second and the controller nothing, unless the count is the API's.
    """

    def __init__(self, counter: RecordFinder, poll_s: float = 1.0) -> None:
        self._counter = counter
        self._poll_s = poll_s
        self._lock = threading.Lock()  # the accepted tally (client threads) and the samples
        self._counting = threading.Lock()  # one count at a time: the counter has one connection
        self._accepted = 0
        self._baseline = 0
        self._samples: list[tuple[float, int, int]] = []  # (perf_counter, accepted, stored)
        self.failures: Counter[str] = Counter()  # counts that failed (that second has no sample)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-records", daemon=True)

    def start(self) -> None:
        """The baseline count (raises when the store cannot be asked), then the sampling thread."""
        self._baseline = self._counter.count()
        with self._lock:
            self._samples.append((time.perf_counter(), 0, 0))
        self._thread.start()

    def accept(self, n: int) -> None:
        """``n`` more activations accepted (a ``Tick``, called from the load's client threads)."""
        with self._lock:
            self._accepted += n

    def sample(self) -> None:
        """Count now (the end of the load window is one sample that must not wait for the next second)."""
        with self._counting:
            before = time.perf_counter()
            try:
                total = self._counter.count()
            except _COUNT_ERRORS as e:  # a slow or busy store: a gap in the timeline, counted in failures
                self.failures[type(e).__name__] += 1
                return
            after = time.perf_counter()
        with self._lock:  # read after the count: a record may land before its 202 reached the client
            self._samples.append(((before + after) / 2, self._accepted,
                                  min(max(total - self._baseline, 0), self._accepted)))

    @property
    def stored(self) -> int:
        """The latest sample's stored count."""
        with self._lock:
            return self._samples[-1][2] if self._samples else 0

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def samples(self, since: float) -> list[StoredSample]:
        """The samples with ``t`` in seconds from ``since`` (a ``time.perf_counter()``, the load's start)."""
        with self._lock:
            return [StoredSample(t - since, accepted, stored) for t, accepted, stored in sorted(self._samples)]

    def _loop(self) -> None:
        while not self._stop.wait(self._poll_s):
            self.sample()


# --- what the stored-records timeline says (pure) -------------------------------------------------------


def stored_at(samples: list[StoredSample], t: float) -> float:
    """Records stored by second ``t``, interpolated linearly between the samples around it (the first
    sample's count before it, the last one's after it)."""
    if not samples:
        return 0.0
    if t <= samples[0].t:
        return float(samples[0].stored)
    for a, b in pairwise(samples):
        if t <= b.t:
            if b.t == a.t:
                return float(b.stored)
            return a.stored + (b.stored - a.stored) * (t - a.t) / (b.t - a.t)
    return float(samples[-1].stored)


def stored_per_second(samples: list[StoredSample]) -> list[float]:
    """Records stored in each whole second from the load's start to the last sample (the drain included)."""
    end = int(samples[-1].t) if samples else 0
    return [round(stored_at(samples, i + 1) - stored_at(samples, i), 1) for i in range(max(end, 0))]


@dataclass(frozen=True)
class Completion:
    completed_per_s: float | None  # records stored per second in the window's second half (None: no samples)
    steady_from_s: float  # that half: [steady_from_s, window_s]
    stored_at_end: int  # records stored when the window closed
    backlog_at_end: int  # accepted - stored_at_end
    drain_s: float | None  # window end to the first sample with every record stored; None: not within sampling


def completion(samples: list[StoredSample], window_s: float, accepted: int) -> Completion:
    """Completed work of a non-blocking load window of ``window_s`` seconds that got ``accepted`` 202s.

    The completed rate is the records stored during the window's second half divided by its length: the
    first half absorbs the start (the action's first container, the queue and the record writer filling),
    and by the second half acceptance and completion run at their steady rates, so what is stored there is
    what the platform finishes per second while it is accepting (the 202 rate can be higher only while a
    backlog grows). ``drain_s`` is as precise as the sampling (one count a second)."""
    half = window_s / 2
    if not samples or half <= 0:
        return Completion(None, half, 0, accepted, None)
    end = round(stored_at(samples, window_s))
    rate = (stored_at(samples, window_s) - stored_at(samples, half)) / half
    done = next((s.t for s in samples if s.stored >= accepted), None)
    drain = None if done is None else max(0.0, done - window_s)
    return Completion(rate, half, end, max(accepted - end, 0), drain)


def await_records(finder: RecordFinder, activation_ids: list[str], *, stall_s: float, poll_s: float = 1.0,
                  stored_count: Callable[[], int] | None = None, count_poll_s: float | None = None,
                  tick: Tick = _noop) -> tuple[set[str], float]:
    """Poll until every id has its record, or no new record appeared for ``stall_s`` (the invokers may
    still be working through a backlog); returns the ids still missing and how long the wait took.

    With ``stored_count`` (how many of these ids have their record, e.g. ``RecordSampler.stored``, read
    every ``count_poll_s``, by default ``poll_s``), the backlog is first waited out on that count, which asks
    the store nothing more, and every id is looked up only once it is complete or has not moved for five polls."""
    start = time.monotonic()
    if stored_count is not None:
        previous, last_change = stored_count(), time.monotonic()
        tick(previous)
        while previous < len(activation_ids) and time.monotonic() - last_change < min(stall_s, 5 * poll_s):
            time.sleep(poll_s if count_poll_s is None else count_poll_s)  # polling the count while records land
            now = stored_count()
            if now != previous:
                tick(max(0, now - previous))
                previous, last_change = now, time.monotonic()
    missing = set(activation_ids)
    last_progress = time.monotonic()
    while missing:
        found = finder.stored(sorted(missing))
        if found:
            missing -= found
            last_progress = time.monotonic()
            if stored_count is None:
                tick(len(found))
        if not missing or time.monotonic() - last_progress > stall_s:
            break
        time.sleep(poll_s)  # polling the store while records land
    return missing, time.monotonic() - start
