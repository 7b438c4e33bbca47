"""The bench's arithmetic: nearest-rank percentiles, and each figure set beside the right floor."""

from __future__ import annotations

import pytest

from bench.report import markdown_table, public, table_rows
from bench.stats import percentile, summarize

pytestmark = pytest.mark.unit


def test_nearest_rank_percentiles() -> None:
    samples = [float(x) for x in range(1, 101)]
    assert percentile(samples, 50) == 50 and percentile(samples, 99) == 99 and percentile(samples, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert summarize([3.0, 1.0, 2.0]) == {"n": 3, "p50": 2.0, "p90": 3.0, "p99": 3.0, "max": 3.0, "mean": 2.0}
    assert summarize([])["p50"] is None


def summary(p50: float, p99: float) -> dict[str, float]:
    return {"n": 10, "p50": p50, "p90": p99, "p99": p99, "max": p99, "mean": p50}


RESULTS = {
    "floors": {
        "flask_hop_ms": summary(0.5, 1.0), "celery_round_trip_ms": summary(2.5, 5.0), "warm_run_ms": summary(0.3, 1.0),
        "celery_parallel": {"per_s": 500.0}, "celery_publish": {"per_s": 2000.0, "latency_ms": summary(1.0, 9.0)},
        "docker_cold_ms": summary(300.0, 400.0), "prewarmed_init_run_ms": summary(3.0, 5.0),
        "cpu_ms": {"flask_hop": 0.4, "celery_task": 0.8},
        "_samples": {"flask_hop": [0.5]},
    },
    "figures": {
        "warm_latency_ms": summary(4.0, 11.0),
        "blocking": {"clients": 16, "per_s": 420.0},
        "nonblocking": {"accepted_per_s": 900.0, "completed_per_s": 400.0, "backlog_at_end": 1000,
                        "latency_ms": summary(5.0, 60.0), "records": {"accepted": 10, "stored": 9, "missing": ["x"]}},
        "cold_no_prewarm": {"latency_ms": summary(320.0, 400.0)},
        "cold_prewarm": {"latency_ms": summary(8.0, 9.0), "stem_cell_latency_ms": summary(8.0, 9.0),
                         "stem_cell_hits": 10},
        "processes": {"controller": {"per_process_max_mb": 90.0}, "invoker": {"total_max_mb": 80.0}},
        "cpu_ms_per_activation": {"controller": 1.5, "invoker": 2.25},
    },
}


def test_each_figure_beside_its_floor_with_ratio_and_goal() -> None:
    ordered = table_rows(RESULTS)
    rows = {r.figure: r for r in ordered}
    cpu = ordered[0]  # the leading figure: both processes' CPU against the bare Flask and Celery servers'
    assert (cpu.figure, cpu.value, cpu.floor, cpu.ratio, cpu.met) == \
        ("CPU per activation, controller + invoker", 3.75, 1.2, 3.12, False)
    warm = rows["warm blocking invoke p50"]
    assert (warm.value, warm.floor, warm.ratio, warm.met) == (4.0, 3.3, 1.21, True)
    assert rows["warm blocking invoke p99"].floor == 7.0 and rows["warm blocking invoke p99"].met is True
    assert rows["blocking throughput, 16 clients"].ratio == 0.84 and rows["blocking throughput, 16 clients"].met
    completed = rows["non-blocking completed (records stored), steady state"]
    assert (completed.value, completed.floor, completed.ratio, completed.met) == (400.0, 2000.0, 0.2, False)
    accepted = rows["non-blocking accepted (202s)"]
    assert (accepted.value, accepted.floor, accepted.met) == (900.0, 2000.0, None)  # beside it, no goal of its own
    backlog = rows["non-blocking backlog at window end"]  # the ratio is the backlog in seconds of completions
    assert (backlog.value, backlog.floor, backlog.ratio, backlog.met) == (1000, 400.0, 2.5, False)
    assert rows["non-blocking 202 p99"].floor == 10.0 and rows["non-blocking 202 p99"].met is False
    assert rows["records stored / accepted"].met is False  # one record missing fails the goal
    assert rows["cold start, no prewarm, p50"].met is True  # 320 ≤ 1.1 × 300
    assert rows["cold start, prewarm hit, p50 (10/10 hits)"].met is True
    assert rows["controller RSS per worker, max"].met is True
    assert "| warm blocking invoke p50 | 4 ms |" in markdown_table(table_rows(RESULTS))


def test_the_cpu_floor_sums_every_bare_part_on_the_path_and_what_older_results_have() -> None:
    parts = {"flask_hop": 0.4, "celery_publish": 0.3, "celery_task": 0.8, "run": 0.1}
    figures = {"cpu_ms_per_activation": {"controller": 1.5, "invoker": 1.0}}
    cpu = table_rows({"floors": {"cpu_ms": parts}, "figures": figures})[0]
    assert (cpu.value, cpu.floor, cpu.ratio, cpu.met) == (2.5, 1.6, 1.56, True)
    assert "confirmed publish" in cpu.floor_is and "/run" in cpu.floor_is
    older = table_rows({"floors": {"cpu_ms": {"flask_hop": 0.4, "celery_task": 0.8}}, "figures": figures})[0]
    assert older.floor == 1.2  # written before the publish and /run parts were measured
    assert table_rows({"floors": {"cpu_ms": {"run": 0.1}}, "figures": figures})[0].floor is None


def test_a_backlog_within_one_second_of_completions_meets_the_goal() -> None:
    figures = {"nonblocking": {"accepted_per_s": 410.0, "completed_per_s": 400.0, "backlog_at_end": 40}}
    rows = {r.figure: r for r in table_rows({"floors": {}, "figures": figures})}
    assert rows["non-blocking backlog at window end"].met is True
    assert rows["non-blocking backlog at window end"].ratio == 0.1


def test_missing_figures_are_blank_not_failures() -> None:
    rows = table_rows({"floors": {}, "figures": {}})
    assert all(r.value is None and r.met is None for r in rows)


def test_public_results_leave_out_raw_samples() -> None:
    out = public(RESULTS)
    assert "_samples" not in out["floors"] and out["floors"]["flask_hop_ms"]["p50"] == 0.5
