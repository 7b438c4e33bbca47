"""One benchmark run: the floors, then Squall's figures on the same services, then the table.

``run(options, progress)`` returns the results as a JSON-ready dict (see ``bench.report`` for its shape).
"""

from __future__ import annotations

import os
import platform
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from bench import floors, report, stack, workload
from bench.processes import ProcessSampler
from bench.profile import Profiler
from bench.stats import summarize
from config import Settings, load_settings

Tick = Callable[[int], None]
UNTHROTTLED = str(10**9)


@dataclass(frozen=True)
class Counts:
    """How much of each measurement; the defaults are the issue's (≥ 2,000 warm calls, 16 clients, 60 s)."""

    warm_calls: int = 2000
    clients: int = 16
    blocking_seconds: float = 20.0
    nonblocking_seconds: float = 60.0
    cold_samples: int = 10
    prewarm_samples: int = 10
    prewarm_pause_s: float = 2.0
    warmup_seconds: float = 5.0
    floor_calls: int = 2000
    floor_seconds: float = 10.0
    docker_samples: int = 10
    record_stall_s: float = 60.0


SMOKE = Counts(warm_calls=20, clients=2, blocking_seconds=1.0, nonblocking_seconds=2.0, cold_samples=1,
               prewarm_samples=1, prewarm_pause_s=1.0, warmup_seconds=0.5, floor_calls=20, floor_seconds=1.0,
               docker_samples=1, record_stall_s=30.0)
"""Tiny counts that exercise every measurement (CI's smoke run); its numbers mean nothing."""


@dataclass(frozen=True)
class Target:
    """An already running stack to measure instead of starting one."""

    apihost: str
    auth: str
    couchdb_url: str | None = None  # with the prefix: check records in CouchDB directly, else through the API
    couchdb_prefix: str | None = None
    namespace: str = "guest"


@dataclass(frozen=True)
class BenchOptions:
    counts: Counts = field(default_factory=Counts)
    target: Target | None = None
    controller_workers: int | None = None
    controller_threads: int | None = None
    invoker_threads: int | None = None
    # Room for every container the runs start: no measurement pays an eviction. None: the configured memory.
    invoker_memory_mb: int | None = 8192
    pouchdb_bin: str | None = None
    workdir: Path | None = None
    profile_dir: Path | None = None  # py-spy flame graphs of the warm, blocking and non-blocking runs


class Progress(Protocol):
    def phase(self, title: str, total: int | None) -> Tick:
        """Start showing a phase of ``total`` steps (None: unknown); returns the step callback."""

    def note(self, text: str) -> None: ...


@dataclass
class _Stack:
    url: str
    auth: str
    env: dict[str, str]
    settings: Settings
    finder: workload.RecordFinder | None
    pids: dict[str, int]
    invoker: str | None
    couchdb_url: str | None
    prefix: str | None


def run(options: BenchOptions, progress: Progress, environ: Mapping[str, str]) -> dict[str, Any]:
    counts = options.counts
    run_id = stack.new_run_id()
    started = datetime.now(UTC)
    with ExitStack() as cleanup:
        workdir = options.workdir or Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="squall-bench-")))
        workdir.mkdir(parents=True, exist_ok=True)
        s = cleanup.enter_context(bench_stack(options, environ, workdir, run_id, progress))
        results: dict[str, Any] = {
            "version": 1,
            "started": started.isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "load_avg": list(os.getloadavg()), "python": platform.python_version(),
                        "platform": platform.platform()},
            "options": {"counts": asdict(counts), "target": options.target.apihost if options.target else None,
                        # The started stack's settings; a target's are its own and unknown here.
                        **({} if options.target else {
                            "controller_workers": s.settings.controller.workers,
                            "controller_threads": s.settings.controller.threads,
                            "invoker_threads": s.settings.invoker.threads,
                            "invoker_memory_mb": s.settings.invoker.user_memory_mb})},
            "floors": _floors(s, counts, workdir, run_id, progress),
        }
        profiler = Profiler(s.pids, options.profile_dir) if options.profile_dir else None
        if profiler is not None and not profiler.available:
            progress.note("no py-spy, or no local processes to profile: running without profiles")
        results["figures"] = _figures(s, counts, run_id, progress, profiler)
        results["machine"]["load_avg_after"] = list(os.getloadavg())
    results["table"] = [asdict(row) for row in report.table_rows(results)]
    return results


@contextmanager
def bench_stack(options: BenchOptions, environ: Mapping[str, str], workdir: Path, run_id: str,
                progress: Progress) -> Iterator[_Stack]:
    """The stack a run measures: ``options.target``, or a controller and an invoker started here (with the
    throttles off) and stopped at the end."""
    if options.target is not None:
        t = options.target
        settings = load_settings(environ=environ)
        finder = workload.CouchRecords(t.couchdb_url, t.couchdb_prefix, t.namespace) \
            if t.couchdb_url and t.couchdb_prefix else None
        try:
            yield _Stack(t.apihost.rstrip("/"), t.auth, dict(environ), settings, finder, {}, None, t.couchdb_url,
                         t.couchdb_prefix)
        finally:
            if isinstance(finder, workload.CouchRecords):
                finder.close()
        return
    with ExitStack() as cleanup:
        base = load_settings(environ=environ)
        couchdb_url = base.couchdb.url
        if not stack.couch_answers(couchdb_url):
            binary = stack.pouchdb_binary(options.pouchdb_bin)
            if binary is None:
                raise stack.StackError(f"no CouchDB at {couchdb_url} and no pouchdb-server to start "
                                       "(--pouchdb-bin)")
            progress.note(f"no CouchDB at {couchdb_url}: starting an in-memory pouchdb-server")
            couchdb_url, pouch = stack.start_pouchdb(binary, workdir)
            cleanup.callback(stack.stop, pouch)
        extra = {"SQUALL_LIMITS_INVOCATIONS_PER_MINUTE": UNTHROTTLED,
                 "SQUALL_LIMITS_CONCURRENT_INVOCATIONS": UNTHROTTLED,
                 "SQUALL_LIMITS_FIRES_PER_MINUTE": UNTHROTTLED}
        for name, value in (("SQUALL_INVOKER_USER_MEMORY_MB", options.invoker_memory_mb),
                            ("SQUALL_CONTROLLER_WORKERS", options.controller_workers),
                            ("SQUALL_CONTROLLER_THREADS", options.controller_threads),
                            ("SQUALL_INVOKER_THREADS", options.invoker_threads)):
            if value is not None:
                extra[name] = str(value)
        env = stack.stack_env(environ, couchdb_url, run_id, stack.free_port(), extra)
        settings = load_settings(environ=env)
        progress.note(f"starting a controller and an invoker (logs in {workdir})")
        stack.squall(env, "admin", "seed")
        running = stack.start_stack(env, workdir)
        cleanup.callback(running.stop)
        finder = workload.CouchRecords(couchdb_url, settings.couchdb.prefix, "guest")
        cleanup.callback(finder.close)
        yield _Stack(running.url, ":".join(stack.GUEST_AUTH), env, settings, finder,
                     {"controller": running.controller.pid, "invoker": running.invoker.pid}, running.invoker_name,
                     couchdb_url,
                     settings.couchdb.prefix)


def _floors(s: _Stack, counts: Counts, workdir: Path, run_id: str, progress: Progress) -> dict[str, Any]:
    celery_total = counts.floor_calls
    tick = progress.phase("floor: Celery round trips, then 16-thread round trips and publishes", celery_total)
    celery = floors.celery_floors(s.env, workdir, s.settings, n=counts.floor_calls, clients=counts.clients,
                                  seconds=counts.floor_seconds, run_id=run_id, tick=tick)
    tick = progress.phase("floor: Flask hop under gunicorn", counts.floor_calls)
    flask, flask_cpu_ms = floors.flask_floor(s.env, workdir, n=counts.floor_calls, tick=tick)
    from app.core.manifest import RuntimeManifest

    manifest = RuntimeManifest.load(s.settings.runtimes.manifest_path)
    image = manifest.image(manifest.resolve("python:default"))
    docker = floors.DockerFloors(image, label=f"benchfloor{run_id}", network=s.settings.invoker.network)
    try:
        tick = progress.phase("floor: /run into a warm container", counts.floor_calls)
        warm_run, run_cpu_ms = docker.warm_run(counts.floor_calls, tick)
        tick = progress.phase("floor: docker create+start+/init", counts.docker_samples)
        cold = docker.cold(counts.docker_samples, tick)
        tick = progress.phase("floor: /init+/run into a started container", counts.docker_samples)
        prewarmed = docker.prewarmed(counts.docker_samples, tick)
    finally:
        docker.close()
        stack.remove_containers(f"benchfloor{run_id}")
    return {
        "celery_round_trip_ms": summarize(celery["round_trip"]),
        "celery_parallel": {"clients": counts.clients, "per_s": round(celery["parallel"]["per_s"], 1),
                            "latency_ms": summarize(celery["parallel"]["latencies"])},
        "celery_publish": {"clients": counts.clients, "per_s": round(celery["publish"]["per_s"], 1),
                           "latency_ms": summarize(celery["publish"]["latencies"])},
        "flask_hop_ms": summarize(flask),
        # CPU per request of the bare parts: a Flask hop's server, a confirmed Celery publish (its caller), a Celery
        # worker's no-op task (16 clients), a /run over keep-alive (its caller).
        "cpu_ms": {"flask_hop": flask_cpu_ms, "celery_publish": celery["publish_cpu_ms_per_message"],
                   "celery_task": celery["worker_cpu_ms_per_task"], "run": run_cpu_ms},
        "warm_run_ms": summarize(warm_run),
        "docker_cold_ms": summarize(cold),
        "prewarmed_init_run_ms": summarize(prewarmed),
        "_samples": {"celery_round_trip": celery["round_trip"], "flask_hop": flask, "warm_run": warm_run},
    }


def _figures(s: _Stack, counts: Counts, run_id: str, progress: Progress, profiler: Profiler | None) -> dict[str, Any]:
    from app.core.manifest import RuntimeManifest
    from bench.client import ApiClient

    client = ApiClient(s.url, s.auth)
    warm_name, nb_name = f"bench-warm-{run_id}", f"bench-nb-{run_id}"
    try:
        workload.put_action(client, warm_name)
        workload.put_action(client, nb_name)
    finally:
        client.close()
    figures: dict[str, Any] = {}

    manifest = RuntimeManifest.load(s.settings.runtimes.manifest_path)
    kind = manifest.resolve("python:default")
    stem_memories = {cell.memory_mb for cell in manifest.stem_cells().get(kind, ())}
    cold_memory = next(m for m in (128, 192, 320, 384, 448, 512) if m not in stem_memories)
    tick = progress.phase(f"cold starts without prewarm ({kind}, {cold_memory} MB)", counts.cold_samples)
    started_for = workload.containers_started_for(s.invoker)
    cold = workload.cold_starts(s.url, s.auth, f"bench-cold-{run_id}", counts.cold_samples, cold_memory, kind,
                                started_for=started_for, tick=tick)
    figures["cold_no_prewarm"] = _cold_figures(cold, kind, cold_memory)
    if stem_memories:
        warm_memory = min(stem_memories)
        tick = progress.phase(f"cold starts on a prewarmed kind ({kind}, {warm_memory} MB)", counts.prewarm_samples)
        prewarm = workload.cold_starts(s.url, s.auth, f"bench-prewarm-{run_id}", counts.prewarm_samples,
                                       warm_memory, kind, pause_s=counts.prewarm_pause_s, started_for=started_for,
                                       tick=tick)
        figures["cold_prewarm"] = _cold_figures(prewarm, kind, warm_memory)
    else:
        figures["cold_prewarm"] = None
        progress.note(f"the manifest prewarms no {kind} containers: no prewarm figure")

    def profiled(name: str) -> AbstractContextManager[None]:
        return profiler.phase(name) if profiler is not None else nullcontext()

    tick = progress.phase("warm blocking invokes, one client", counts.warm_calls)
    with profiled("warm"):
        warm = workload.warm_latency(s.url, s.auth, warm_name, counts.warm_calls, tick)
    figures["warm_latency_ms"] = summarize(warm)
    tick = progress.phase("warm web action GETs (.json), one client, anonymous", counts.warm_calls)
    web_name = f"bench-web-{run_id}"
    client = ApiClient(s.url, s.auth)
    try:
        workload.put_action(client, web_name)
    finally:
        client.close()
    with profiled("web"):
        web = workload.web_latency(s.url, s.auth, web_name, counts.warm_calls, tick)
    figures["web_latency_ms"] = summarize(web)

    if counts.warmup_seconds > 0:  # unmeasured: the invoker starts the containers 16 clients need
        tick = progress.phase(f"warm-up, {counts.clients} clients, {counts.warmup_seconds:g} s", None)
        workload.closed_loop(s.url, s.auth, warm_name, counts.clients, counts.warmup_seconds, blocking=True,
                             tick=tick)
    sampler = ProcessSampler(s.pids) if s.pids else None
    if sampler:
        sampler.start()
    try:
        tick = progress.phase(f"blocking invokes, {counts.clients} clients, {counts.blocking_seconds:g} s", None)
        with profiled("blocking"):
            blocking = workload.closed_loop(s.url, s.auth, warm_name, counts.clients, counts.blocking_seconds,
                                            blocking=True, tick=tick)
        figures["blocking"] = _load_figures(blocking)
        nonblocking, figures["nonblocking"], stored_timeline = _nonblocking(s, counts, nb_name, progress, profiled)
    finally:
        figures["processes"] = sampler.stop() if sampler else None
    if figures["processes"]:
        # Every activation of both runs was received by the controller and run by the invoker by now.
        activations = figures["blocking"]["completed"] + figures["nonblocking"]["accepted"]
        figures["cpu_ms_per_activation"] = {name: round(1000 * usage["cpu_s"] / max(activations, 1), 2)
                                            for name, usage in figures["processes"].items()}

    figures["_samples"] = {"warm": warm, "web": web, "blocking": blocking.latencies_ms,
                           "nonblocking": nonblocking.latencies_ms, "blocking_timeline": blocking.timeline,
                           "nonblocking_timeline": nonblocking.timeline,
                           "nonblocking_stored_timeline": stored_timeline}
    return figures


def _nonblocking(s: _Stack, counts: Counts, action: str, progress: Progress,
                 profiled: Callable[[str], AbstractContextManager[None]],
                 ) -> tuple[workload.LoadResult, dict[str, Any], list[float]]:
    """The non-blocking closed loop, with the stored records counted every second while it runs and while
    its backlog drains, then every accepted id looked up. Returns the load, its figures (accepted: 202s;
    completed: records stored; see ``workload.completion``) and the records stored in each second."""
    finder = s.finder or workload.ApiRecords(s.url, s.auth, action)
    counter = finder.counter()  # the sampler's own connection
    sampler = workload.RecordSampler(counter)
    try:
        sampler.start()
        shown = progress.phase(f"non-blocking invokes, {counts.clients} clients, {counts.nonblocking_seconds:g} s",
                               None)

        def on_accept(n: int) -> None:
            shown(n)
            sampler.accept(n)

        with profiled("nonblocking"):
            load = workload.closed_loop(s.url, s.auth, action, counts.clients, counts.nonblocking_seconds,
                                        blocking=False, tick=on_accept)
        sampler.sample()  # the window's end
        ids = load.activation_ids
        tick = progress.phase("checking that every accepted activation has its record", len(ids))
        missing, waited = workload.await_records(finder, ids, stall_s=counts.record_stall_s,
                                                 stored_count=lambda: sampler.stored, count_poll_s=0.1, tick=tick)
    finally:
        sampler.stop()
        counter.close()
        if isinstance(finder, workload.ApiRecords):
            finder.close()
    samples = sampler.samples(since=load.started_at)
    done = workload.completion(samples, load.seconds, load.completed)
    figures = _load_figures(load, accepted=True)
    figures.update({
        "completed_per_s": None if done.completed_per_s is None else round(done.completed_per_s, 1),
        "completed_over_s": [round(done.steady_from_s, 2), round(load.seconds, 2)],
        "stored_at_end": done.stored_at_end, "backlog_at_end": done.backlog_at_end,
        "drain_s": None if done.drain_s is None else round(done.drain_s, 1),
        "stored_counted_in": "couchdb doc_count" if s.finder else "api count",
        "stored_count_failures": dict(sampler.failures),
        "records": {"accepted": len(ids), "stored": len(ids) - len(missing), "missing": sorted(missing),
                    "waited_s": round(waited, 1), "checked_in": "couchdb" if s.finder else "api"},
    })
    return load, figures, workload.stored_per_second(samples)


def _load_figures(load: workload.LoadResult, accepted: bool = False) -> dict[str, Any]:
    """A closed loop's figures; ``accepted``: a non-blocking one, whose answers are 202s (work accepted, not
    done: ``accepted`` and ``accepted_per_s``), else ``completed`` and ``per_s``."""
    count, rate = ("accepted", "accepted_per_s") if accepted else ("completed", "per_s")
    return {"clients": load.clients, "seconds": round(load.seconds, 2), count: load.completed,
            rate: round(load.per_s, 1), "latency_ms": summarize(load.latencies_ms),
            "statuses": {str(k): v for k, v in sorted(load.statuses.items())},
            "failures": dict(load.failures)}


def _cold_figures(samples: list[workload.ColdSample], kind: str, memory_mb: int) -> dict[str, Any]:
    """Client latency of the cold invokes, and of those a prewarmed container served."""
    def stem_cell(sample: workload.ColdSample) -> bool:
        return sample.stem_cell is True

    return {
        "kind": kind, "memory_mb": memory_mb,
        "latency_ms": summarize([x.ms for x in samples]),
        "stem_cell_hits": sum(1 for x in samples if stem_cell(x)),
        "stem_cell_latency_ms": summarize([x.ms for x in samples if stem_cell(x)]),
        "warm_hits": sum(1 for x in samples if x.init_ms is None),
        "samples": [x.to_dict() for x in samples],
    }


def with_counts(options: BenchOptions, **changes: Any) -> BenchOptions:
    """``options`` with the given counts changed (None leaves one as it is)."""
    return replace(options, counts=replace(options.counts, **{k: v for k, v in changes.items() if v is not None}))
