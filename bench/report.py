"""The results as a table (each figure beside its floor and the ratio), as JSON, and as a chart.

Ratio is figure ÷ floor: above 1 a latency is slower than its floor, below 1 a rate is short of it; for the
non-blocking backlog, whose floor is one second of completions, it is the backlog in seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Row:
    figure: str
    value: float | None
    unit: str
    floor: float | None
    floor_is: str
    ratio: float | None
    goal: str
    met: bool | None


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _sum(*values: Any) -> float | None:
    if any(v is None for v in values):
        return None
    return round(float(sum(values)), 2)


def _ratio(value: Any, floor: Any) -> float | None:
    if value is None or not floor:
        return None
    return round(float(value) / float(floor), 2)


def _row(figure: str, value: Any, unit: str, floor: Any, floor_is: str, goal: str, met: bool | None) -> Row:
    return Row(figure, value, unit, floor, floor_is, _ratio(value, floor), goal,
               None if value is None else met)


def table_rows(results: dict[str, Any]) -> list[Row]:
    f, fl = results.get("figures", {}), results.get("floors", {})
    rows: list[Row] = []
    # The leading figure (issue 17): both processes' CPU per activation, beside what the bare parts cost on its path:
    # a Flask hop's server and a confirmed publish (the controller), a Celery worker's no-op task and a /run call
    # (the invoker). Results written before the last two were measured sum what they have.
    value = _sum(_get(f, "cpu_ms_per_activation", "controller"), _get(f, "cpu_ms_per_activation", "invoker"))
    parts = [_get(fl, "cpu_ms", part) for part in ("flask_hop", "celery_publish", "celery_task", "run")]
    known = [part for part in parts if part is not None]
    floor = _sum(*known) if len(known) >= 2 else None
    rows.append(_row("CPU per activation, controller + invoker", value, "ms", floor,
                     "Flask hop server + confirmed publish + Celery worker task + /run call", "≤ 2.5 ms",
                     value is not None and value <= 2.5))
    for p, limit in (("p50", 4.0), ("p99", 12.0)):
        value = _get(f, "warm_latency_ms", p)
        floor = _sum(_get(fl, "flask_hop_ms", p), _get(fl, "celery_round_trip_ms", p), _get(fl, "warm_run_ms", p))
        met = value is not None and value <= limit and (p != "p50" or floor is None or value <= 1.3 * floor)
        goal = f"≤ {limit:g} ms" + (" and ≤ 1.3× floor" if p == "p50" else "")
        rows.append(_row(f"warm blocking invoke {p}", value, "ms", floor, "Flask hop + Celery round trip + /run",
                         goal, met))
    for p in ("p50", "p99"):
        value, floor = _get(f, "web_latency_ms", p), _get(f, "warm_latency_ms", p)
        rows.append(_row(f"web action GET (.json) {p}", value, "ms", floor, "warm blocking invoke, same run",
                         "≤ warm invoke + 1 ms", value is not None and floor is not None and value <= floor + 1.0))
    value = _get(f, "blocking", "per_s")
    rows.append(_row(f"blocking throughput, {_get(f, 'blocking', 'clients')} clients", value, "req/s",
                     _get(fl, "celery_parallel", "per_s"), "Celery round trips, same threads", "≥ 400 req/s",
                     value is not None and value >= 400))
    # Non-blocking: what is finished (records stored, in the window's steady second half) leads; what is
    # accepted (202s) sits beside it, and the backlog between the two says whether completion keeps up.
    completed = _get(f, "nonblocking", "completed_per_s")
    publishes = _get(fl, "celery_publish", "per_s")
    rows.append(_row("non-blocking completed (records stored), steady state", completed, "act/s", publishes,
                     "Celery publishes, same threads", "≥ 1,000 act/s", completed is not None and completed >= 1000))
    value = _get(f, "nonblocking", "accepted_per_s")
    rows.append(_row("non-blocking accepted (202s)", value, "act/s", publishes, "Celery publishes, same threads",
                     "", None))
    value = _get(f, "nonblocking", "backlog_at_end")
    rows.append(_row("non-blocking backlog at window end", value, "act", completed or None, "1 s of completions",
                     "≤ 1 s of completions (no growing backlog)",
                     value is not None and completed is not None and value <= completed))
    value = _get(f, "nonblocking", "latency_ms", "p99")
    rows.append(_row("non-blocking 202 p99", value, "ms",
                     _sum(_get(fl, "celery_publish", "latency_ms", "p99"), _get(fl, "flask_hop_ms", "p99")),
                     "Celery publish + Flask hop", "≤ 50 ms", value is not None and value <= 50))
    records = _get(f, "nonblocking", "records") or {}
    if records:
        stored, accepted = records["stored"], records["accepted"]
        rows.append(Row("records stored / accepted", stored, "records", accepted, "accepted",
                        _ratio(stored, accepted), "all", stored == accepted))
    floor = _get(fl, "docker_cold_ms", "p50")
    value = _get(f, "cold_no_prewarm", "latency_ms", "p50")
    rows.append(_row("cold start, no prewarm, p50", value, "ms", floor, "docker create+start+/init", "≤ 1.1× floor",
                     value is not None and floor is not None and value <= 1.1 * floor))
    value = _get(f, "cold_prewarm", "stem_cell_latency_ms", "p50")
    hits = _get(f, "cold_prewarm", "stem_cell_hits")
    samples = _get(f, "cold_prewarm", "latency_ms", "n")
    rows.append(_row(f"cold start, prewarm hit, p50 ({hits or 0}/{samples or 0} hits)", value, "ms",
                     _get(fl, "prewarmed_init_run_ms", "p50"), "/init+/run into a started container", "≤ 10 ms",
                     value is not None and value <= 10))
    value = _get(f, "processes", "controller", "per_process_max_mb")
    rows.append(_row("controller RSS per worker, max", value, "MB", None, "", "≤ 150 MB",
                     value is not None and value <= 150))
    value = _get(f, "processes", "invoker", "total_max_mb")
    rows.append(_row("invoker RSS, max", value, "MB", None, "", "", None))
    for process in ("controller", "invoker"):
        value = _get(f, "cpu_ms_per_activation", process)
        rows.append(_row(f"{process} CPU per activation", value, "ms", None, "", "", None))
    return rows


def public(results: dict[str, Any]) -> dict[str, Any]:
    """The results without the raw samples (kept for the chart only)."""
    out = {k: v for k, v in results.items() if k not in ("floors", "figures")}
    for section in ("floors", "figures"):
        out[section] = {k: v for k, v in results.get(section, {}).items() if not k.startswith("_")}
    return out


def write_json(results: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(public(results), indent=2) + "\n")


def markdown_table(rows: list[Row]) -> str:
    """The table as Markdown, for the README."""
    def fmt(x: float | None) -> str:
        return "–" if x is None else f"{x:,.2f}".rstrip("0").rstrip(".")

    lines = ["| figure | value | floor | ratio | goal | met |", "|---|---|---|---|---|---|"]
    for r in rows:
        floor = f"{fmt(r.floor)} ({r.floor_is})" if r.floor is not None else "–"
        met = "–" if r.met is None else ("yes" if r.met else "no")
        lines.append(f"| {r.figure} | {fmt(r.value)} {r.unit} | {floor} | {fmt(r.ratio)} | {r.goal or '–'} | {met} |")
    return "\n".join(lines)


def draw_png(results: dict[str, Any], path: Path) -> None:
    """Latency distributions (warm, blocking under load, 202s, and the floors) and throughput over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures, floors = results["figures"].get("_samples", {}), results["floors"].get("_samples", {})
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    series = [("warm blocking invoke", figures.get("warm")), ("web action GET", figures.get("web")),
              ("blocking, under load", figures.get("blocking")),
              ("non-blocking 202", figures.get("nonblocking")),
              ("floor: Celery round trip", floors.get("celery_round_trip")),
              ("floor: Flask hop", floors.get("flask_hop")), ("floor: warm /run", floors.get("warm_run"))]
    for label, samples in series:
        if samples:
            ordered = sorted(samples)
            n = len(ordered)
            left.plot(ordered, [(i + 1) / n for i in range(n)], label=f"{label} (n={n})")
    left.set_xscale("log")
    left.set_xlabel("latency, ms (log)")
    left.set_ylabel("fraction of calls at or below")
    left.set_title("latency distribution")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    for label, key in (("blocking req/s", "blocking_timeline"),
                       ("non-blocking accepted (202s)/s", "nonblocking_timeline"),
                       ("non-blocking records stored/s", "nonblocking_stored_timeline")):
        timeline = figures.get(key) or []
        if timeline:
            right.plot(range(len(timeline)), timeline, marker=".", label=label)
    window = _get(results, "figures", "nonblocking", "seconds")
    if window and figures.get("nonblocking_stored_timeline"):
        right.axvline(window, color="grey", linestyle=":", label="non-blocking window end")
    right.set_xlabel("second of the run")
    right.set_ylabel("per second")
    right.set_title("throughput")
    right.grid(True, alpha=0.3)
    right.legend(fontsize=8)
    load = " ".join(f"{x:.1f}" for x in results["machine"].get("load_avg", []))
    fig.suptitle(f"squall bench, {results.get('started', '')}, load average {load}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
