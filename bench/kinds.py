"""Per kind: cold start without a stem cell, the /init share of it, and warm latency, for a no-op action of every
kind the manifest names (or ``--kinds``), against a stack started as ``squall bench`` starts one.

    squall bench --scenario kinds --cold-samples 5 --warm-calls 300

Each cold sample is the first blocking invoke of a fresh action at a memory size no stem cell has (so no
prewarmed container can serve it): client latency, and the activation's ``initTime`` (for compiled kinds, the
compile). Warm latency is sequential blocking invokes (``result=true``) of one action after the cold ones.
A Java no-op needs a jar: it is compiled with the host's ``javac`` against Gson, and Java is left out (with a note)
where there is none.
"""

from __future__ import annotations

import base64
import io
import os
import platform
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import stack, workload
from bench.client import ApiClient
from bench.run import BenchOptions, Progress, bench_stack
from bench.stats import summarize

NOOPS = {
    "python": workload.NOOP,
    "nodejs": "function main(params) { return params; }\n",
    "go": "package main\n\nfunc Main(obj map[string]interface{}) map[string]interface{} {\n\treturn obj\n}\n",
    "php": "<?php\nfunction main(array $args): array { return $args; }\n",
    "ruby": "def main(params)\n  params\nend\n",
    "rust": "use serde_json::{Error, Value};\n\npub fn main(args: Value) -> Result<Value, Error> {\n    Ok(args)\n}\n",
}
JAVA_NOOP = ("import com.google.gson.JsonObject;\n\npublic class Main {\n"
             "    public static JsonObject main(JsonObject args) { return args; }\n}\n")
GSON_JAR = "/usr/share/java/gson.jar"
COLD_MEMORY_MB = 320
"""No stem cell of the manifest has this size, so every cold sample starts a container."""


@dataclass(frozen=True)
class KindCounts:
    cold_samples: int = 5
    warm_calls: int = 300
    kinds: tuple[str, ...] = ()  # empty: every kind of the manifest


SMOKE = KindCounts(cold_samples=1, warm_calls=5, kinds=("python:default",))


def java_noop() -> str | None:
    """The Java no-op as a base64 jar, or None without ``javac`` and Gson on this host."""
    if shutil.which("javac") is None or not os.path.isfile(GSON_JAR):
        return None
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "Main.java"
        source.write_text(JAVA_NOOP)
        subprocess.run(["javac", "-cp", GSON_JAR, "-d", folder, str(source)], check=True, capture_output=True)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as jar:
            jar.write(Path(folder) / "Main.class", "Main.class")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def run(options: BenchOptions, counts: KindCounts, progress: Progress, environ: Mapping[str, str]) -> dict[str, Any]:
    """Every wanted kind measured on one stack; the results as a JSON-ready dict."""
    from app.core.manifest import RuntimeManifest

    run_id = stack.new_run_id()
    started = datetime.now(UTC)
    with ExitStack() as cleanup:
        workdir = options.workdir or Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="squall-kinds-")))
        workdir.mkdir(parents=True, exist_ok=True)
        s = cleanup.enter_context(bench_stack(options, environ, workdir, run_id, progress))
        manifest = RuntimeManifest.load(s.settings.runtimes.manifest_path)
        kinds = [manifest.resolve(k) for k in counts.kinds] or [
            kind for family in manifest.families().values() for kind in family if not manifest.is_deprecated(kind)]
        figures: dict[str, Any] = {}
        for kind in kinds:
            family = manifest.runtime(kind).family
            code = java_noop() if family == "java" else NOOPS.get(family)
            if code is None:
                progress.note(f"no no-op action for {kind} here (Java needs javac and Gson): left out")
                continue
            figures[kind] = measure(s.url, s.auth, f"kinds-{run_id}-{family}", kind, code, counts, progress)
    return {
        "version": 1,
        "scenario": "kinds",
        "started": started.isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "counts": {"cold_samples": counts.cold_samples, "warm_calls": counts.warm_calls,
                   "cold_memory_mb": COLD_MEMORY_MB},
        "figures": figures,
    }


def measure(url: str, auth: str, prefix: str, kind: str, code: str, counts: KindCounts,
            progress: Progress) -> dict[str, Any]:
    tick = progress.phase(f"{kind}: cold starts ({COLD_MEMORY_MB} MB, no stem cell)", counts.cold_samples)
    cold = workload.cold_starts(url, auth, prefix, counts.cold_samples, COLD_MEMORY_MB, kind, code=code, tick=tick)
    warm_name = f"{prefix}-{COLD_MEMORY_MB}-0"  # the first cold action: its container is warm now
    tick = progress.phase(f"{kind}: warm blocking invokes, one client", counts.warm_calls)
    warm = workload.warm_latency(url, auth, warm_name, counts.warm_calls, tick)
    client = ApiClient(url, auth)
    try:
        for i in range(counts.cold_samples):
            client.json("DELETE", workload.action_path(f"{prefix}-{COLD_MEMORY_MB}-{i}"))
    finally:
        client.close()
    return {
        "cold_ms": summarize([sample.ms for sample in cold]),
        "init_ms": summarize([float(sample.init_ms) for sample in cold if sample.init_ms is not None]),
        "warm_ms": summarize(warm),
    }


def summary_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(kind, cold p50, of which /init p50, warm p50 / p99) for the terminal and docs/benchmarks.md."""
    def ms(value: float | None, digits: int = 0) -> str:
        return "–" if value is None else f"{value:.{digits}f} ms"

    return [(kind, ms(f["cold_ms"]["p50"]), ms(f["init_ms"]["p50"]),
             f"{ms(f['warm_ms']['p50'], 2)} / {ms(f['warm_ms']['p99'], 2)}")
            for kind, f in results["figures"].items()]
