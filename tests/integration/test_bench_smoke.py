"""``squall bench --smoke`` runs every measurement end to end and writes well-formed JSON.

Timings are never asserted (shared, noisy machines); the records check is: every activation the
controller accepted during the non-blocking run has its stored record, and the completed-work figures
(records stored over time) agree with what was accepted.
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
    png = tmp_path / "bench.png"
    bench = subprocess.Popen([SQUALL, "bench", "--smoke", "--json", str(out), "--png", str(png),
                              "--workdir", str(tmp_path / "wd")],
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
    assert all(floors["cpu_ms"][part] > 0 for part in ("flask_hop", "celery_publish", "celery_task", "run"))
    assert figures["warm_latency_ms"]["n"] == 20
    blocking, nonblocking = figures["blocking"], figures["nonblocking"]
    assert blocking["completed"] >= 1 and blocking["per_s"] > 0 and set(blocking["latency_ms"]) == SUMMARY_KEYS
    assert nonblocking["accepted"] >= 1 and nonblocking["accepted_per_s"] > 0
    assert set(nonblocking["latency_ms"]) == SUMMARY_KEYS
    records = nonblocking["records"]
    assert records["checked_in"] == "couchdb"
    assert records["accepted"] == nonblocking["accepted"]
    assert records["missing"] == [] and records["stored"] == records["accepted"]
    # Completed (records stored) beside accepted (202s): never more stored than accepted, the backlog is the rest
    assert nonblocking["stored_counted_in"] == "couchdb doc_count"
    assert 0 <= nonblocking["stored_at_end"] <= nonblocking["accepted"]
    assert nonblocking["backlog_at_end"] == nonblocking["accepted"] - nonblocking["stored_at_end"] >= 0
    steady_from, window = nonblocking["completed_over_s"]
    assert window == nonblocking["seconds"] and steady_from == pytest.approx(window / 2, abs=0.01)
    assert nonblocking["completed_per_s"] is not None
    assert 0 <= nonblocking["completed_per_s"] * (window - steady_from) <= nonblocking["accepted"] + 1
    assert nonblocking["drain_s"] is not None and nonblocking["drain_s"] >= 0  # every record landed
    cold = figures["cold_no_prewarm"]
    assert cold["latency_ms"]["n"] == 1 and cold["samples"][0]["initTime"] is not None  # a real cold start
    assert figures["cold_prewarm"]["latency_ms"]["n"] == 1
    for process in ("controller", "invoker"):
        assert figures["processes"][process]["per_process_max_mb"] > 0
        assert figures["processes"][process]["cpu_s"] > 0 and figures["cpu_ms_per_activation"][process] > 0
    assert [row["figure"] for row in results["table"]][:3] == [
        "CPU per activation, controller + invoker", "warm blocking invoke p50", "warm blocking invoke p99"]
    cpu = results["table"][0]
    assert cpu["value"] == pytest.approx(sum(figures["cpu_ms_per_activation"].values()), abs=0.02)
    assert cpu["floor"] == pytest.approx(sum(floors["cpu_ms"].values()), abs=0.02)
    assert "_samples" not in floors and "_samples" not in figures  # raw samples feed the chart, not the JSON
    figures_in_table = [row["figure"] for row in results["table"]]
    for figure in ("non-blocking completed (records stored), steady state", "non-blocking accepted (202s)",
                   "non-blocking backlog at window end"):
        assert figure in figures_in_table
    assert "warm blocking invoke p50" in stdout  # the table was printed
    assert png.stat().st_size > 0  # the chart, with the records-stored line


def test_the_kinds_scenario_measures_cold_and_warm_for_the_kinds_asked(couchdb_url: str, tmp_path: Path) -> None:
    out = tmp_path / "kinds.json"
    env = {**os.environ, "SQUALL_COUCHDB_URL": couchdb_url}
    done = subprocess.run([SQUALL, "bench", "--scenario", "kinds", "--kinds", "ruby:default,go:1.19",
                           "--cold-samples", "1", "--warm-calls", "3", "--json", str(out), "--markdown"],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    results = json.loads(out.read_text())
    assert results["scenario"] == "kinds" and set(results["figures"]) == {"ruby:3.1", "go:1.19"}
    for figures in results["figures"].values():
        assert figures["cold_ms"]["n"] == 1 and figures["init_ms"]["n"] == 1  # a real cold start: /init ran
        assert figures["warm_ms"]["n"] == 3 and set(figures["warm_ms"]) == SUMMARY_KEYS
    assert "| go:1.19 |" in done.stdout  # the Markdown table
