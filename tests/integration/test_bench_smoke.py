"""``squall bench --smoke`` runs every measurement end to end and writes well-formed JSON.

Timings are never asserted (shared, noisy machines); the records check is: every activation the
controller accepted during the non-blocking run has its stored record.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bench.stack import SQUALL

pytestmark = pytest.mark.integration

SUMMARY_KEYS = {"n", "p50", "p90", "p99", "max", "mean"}


def test_smoke_run_writes_every_figure_and_finds_every_record(couchdb_url: str, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "SQUALL_COUCHDB_URL": couchdb_url}
    bench = subprocess.Popen([SQUALL, "bench", "--smoke", "--json", str(out), "--workdir", str(tmp_path / "wd")],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = bench.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        bench.terminate()  # SIGTERM: the bench stops the stack it started before exiting
        stdout, stderr = bench.communicate(timeout=45)
    assert bench.returncode == 0, f"{stdout}\n{stderr}"
    results = json.loads(out.read_text())

    floors, figures = results["floors"], results["figures"]
    for name in ("celery_round_trip_ms", "flask_hop_ms", "warm_run_ms", "docker_cold_ms", "prewarmed_init_run_ms"):
        assert set(floors[name]) == SUMMARY_KEYS and floors[name]["n"] >= 1, name
    for name in ("celery_parallel", "celery_publish"):
        assert floors[name]["per_s"] > 0 and floors[name]["latency_ms"]["n"] >= 1
    assert figures["warm_latency_ms"]["n"] == 20
    for name in ("blocking", "nonblocking"):
        assert figures[name]["completed"] >= 1 and figures[name]["per_s"] > 0
        assert set(figures[name]["latency_ms"]) == SUMMARY_KEYS
    records = figures["nonblocking"]["records"]
    assert records["checked_in"] == "couchdb"
    assert records["accepted"] == figures["nonblocking"]["completed"]
    assert records["missing"] == [] and records["stored"] == records["accepted"]
    cold = figures["cold_no_prewarm"]
    assert cold["latency_ms"]["n"] == 1 and cold["samples"][0]["initTime"] is not None  # a real cold start
    assert figures["cold_prewarm"]["latency_ms"]["n"] == 1
    for process in ("controller", "invoker"):
        assert figures["processes"][process]["per_process_max_mb"] > 0
        assert figures["processes"][process]["cpu_s"] > 0 and figures["cpu_ms_per_activation"][process] > 0
    assert [row["figure"] for row in results["table"]][:2] == ["warm blocking invoke p50", "warm blocking invoke p99"]
    assert "_samples" not in floors and "_samples" not in figures  # raw samples feed the chart, not the JSON
    assert "warm blocking invoke p50" in stdout  # the table was printed
