"""``squall bench``: measure Squall beside the floors of its parts (``bench.run``), print the table,
write JSON and a chart; or, with ``--scenario soak``, an open-loop soak of the container pool
(``bench.soak``). rich and matplotlib are imported only when the command runs."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from app.cli.common import settings

if TYPE_CHECKING:
    from bench.run import Tick


@click.command()
@click.option("--scenario", type=click.Choice(["figures", "soak", "kinds"]), default="figures", show_default=True,
              help="figures: every figure beside its floor; soak: an open-loop load over several actions; kinds: "
                   "cold start and warm latency of a no-op action of every kind (--kinds to choose).")
@click.option("--apihost", help="Measure this running controller instead of starting a stack.")
@click.option("--auth", help="uuid:key for --apihost (default: guest's well-known key).")
@click.option("--couchdb-url", help="With --apihost and --couchdb-prefix: check records in CouchDB directly.")
@click.option("--couchdb-prefix", help="The database prefix of the stack behind --apihost.")
@click.option("--smoke", is_flag=True, help="Tiny counts: checks every measurement runs; the numbers mean nothing.")
@click.option("--warm-calls", type=int, help="Sequential warm blocking invokes (default 2000).")
@click.option("--clients", type=int, help="Concurrent clients for the throughput runs (default 16).")
@click.option("--blocking-seconds", type=float, help="Length of the blocking throughput run (default 20).")
@click.option("--nonblocking-seconds", type=float, help="Length of the non-blocking run (default 60).")
@click.option("--warmup-seconds", type=float, help="Unmeasured 16-client run before the throughput runs (default 5).")
@click.option("--cold-samples", type=int, help="Cold starts without prewarm (default 10).")
@click.option("--prewarm-samples", type=int, help="Cold starts of a prewarmed kind (default 10).")
@click.option("--floor-calls", type=int, help="Calls per latency floor (default 2000).")
@click.option("--docker-samples", type=int, help="Bare docker cold starts (default 10).")
@click.option("--controller-workers", type=int, help="gunicorn workers of the started controller.")
@click.option("--controller-threads", type=int, help="Threads per worker of the started controller.")
@click.option("--invoker-threads", type=int, help="Threads of the started invoker.")
@click.option("--invoker-memory-mb", type=int,
              help="Container memory of the started invoker (default: 8192 for figures, room for every "
                   "container the runs start; the configured memory for the soak).")
@click.option("--rate", type=float, help="soak: requests a second (default 50).")
@click.option("--seconds", type=float, help="soak: length of the window (default 60).")
@click.option("--actions", type=int, help="soak: actions the requests are spread over (default 8).")
@click.option("--sleep-ms", type=int, help="soak: how long each activation sleeps (default 100).")
@click.option("--kinds", help="kinds: comma-separated kinds to measure (default: every kind of the manifest).")
@click.option("--pouchdb-bin", help="pouchdb-server to start when no CouchDB answers at SQUALL_COUCHDB_URL.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the stack's logs here (default: a temporary folder).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the results here.")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw the latency distributions and throughput here.")
@click.option("--profile", "profile_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Record py-spy flame graphs of the controller workers and the invoker here, per run.")
@click.option("--markdown", is_flag=True, help="Also print the table as Markdown (for the README).")
def bench(scenario: str, apihost: str | None, auth: str | None, couchdb_url: str | None,
          couchdb_prefix: str | None, smoke: bool,
          warm_calls: int | None, clients: int | None, blocking_seconds: float | None,
          nonblocking_seconds: float | None, warmup_seconds: float | None, cold_samples: int | None,
          prewarm_samples: int | None,
          floor_calls: int | None, docker_samples: int | None, controller_workers: int | None,
          controller_threads: int | None, invoker_threads: int | None, invoker_memory_mb: int | None,
          rate: float | None, seconds: float | None, actions: int | None, sleep_ms: int | None,
          kinds: str | None, pouchdb_bin: str | None,
          workdir: Path | None, json_path: Path | None, png_path: Path | None, profile_dir: Path | None,
          markdown: bool) -> None:
    """Benchmark a no-op Python action: warm latency, throughput, cold starts, memory, beside the floors
    (or soak the container pool: --scenario soak)."""
    from rich.console import Console

    _find_bench()
    from bench import report
    from bench.run import SMOKE, BenchOptions, Counts, Target, run, with_counts
    from bench.stack import GUEST_AUTH, StackError

    settings()  # bad SQUALL_* settings are a usage error before anything starts
    target = None
    if apihost:
        target = Target(apihost, auth or ":".join(GUEST_AUTH), couchdb_url, couchdb_prefix)
    soak = {"rate": rate, "seconds": seconds, "actions": actions, "sleep_ms": sleep_ms}
    if scenario != "soak" and any(v is not None for v in soak.values()):
        raise click.UsageError("--rate, --seconds, --actions and --sleep-ms are the soak's: add --scenario soak")
    if scenario != "kinds" and kinds is not None:
        raise click.UsageError("--kinds is the kinds scenario's: add --scenario kinds")
    if scenario == "figures" and invoker_memory_mb is None:
        invoker_memory_mb = 8192  # the soak measures the invoker as configured instead
    options = with_counts(
        BenchOptions(counts=SMOKE if smoke else Counts(), target=target, controller_workers=controller_workers,
                     controller_threads=controller_threads, invoker_threads=invoker_threads,
                     invoker_memory_mb=invoker_memory_mb,
                     pouchdb_bin=pouchdb_bin, workdir=workdir, profile_dir=profile_dir),
        warm_calls=warm_calls, clients=clients, blocking_seconds=blocking_seconds,
        nonblocking_seconds=nonblocking_seconds, warmup_seconds=warmup_seconds, cold_samples=cold_samples,
        prewarm_samples=prewarm_samples,
        floor_calls=floor_calls, docker_samples=docker_samples)
    # SIGTERM ends the run like Ctrl-C does: the started controller, invoker and containers are stopped.
    signal.signal(signal.SIGTERM, _terminate)
    console = Console(stderr=True)
    if scenario == "soak":
        _soak(options, soak, smoke, console, json_path, markdown)
        return
    if scenario == "kinds":
        _kinds(options, kinds, cold_samples, warm_calls, smoke, console, json_path, markdown)
        return
    with _RichProgress(console) as progress:
        try:
            results = run(options, progress, os.environ)
        except StackError as e:
            raise click.ClickException(str(e)) from e
    rows = report.table_rows(results)
    out = Console()
    if not out.is_terminal:
        out = Console(width=160)  # a log or a pipe: do not wrap the table at 80 columns
    out.print(_table(rows))
    if markdown:
        click.echo(report.markdown_table(rows))
    if json_path:
        report.write_json(results, json_path)
        console.print(f"results written to {json_path}")
    if png_path:
        report.draw_png(results, png_path)
        console.print(f"chart written to {png_path}")


def _soak(options: Any, changes: dict[str, Any], smoke: bool, console: Any, json_path: Path | None,
          markdown: bool) -> None:
    from dataclasses import replace

    from rich.console import Console
    from rich.table import Table

    from bench import report, soak
    from bench.stack import StackError

    counts = replace(soak.SMOKE if smoke else soak.SoakCounts(), **{k: v for k, v in changes.items() if v is not None})
    with _RichProgress(console) as progress:
        try:
            results = soak.run(options, counts, progress, os.environ)
        except StackError as e:
            raise click.ClickException(str(e)) from e
    rows = soak.summary_rows(results["figures"], results["options"]["invoker_memory_mb"],
                             results["options"]["invoker_threads"])
    table = Table(title="squall bench --scenario soak")
    table.add_column("figure")
    table.add_column("value")
    for figure, value in rows:
        table.add_row(figure, value)
    Console(width=160).print(table)
    if markdown:
        click.echo("| figure | value |\n|---|---|\n" + "\n".join(f"| {f} | {v} |" for f, v in rows))
    if json_path:
        report.write_json(results, json_path)
        console.print(f"results written to {json_path}")


def _kinds(options: Any, kinds: str | None, cold_samples: int | None, warm_calls: int | None, smoke: bool,
           console: Any, json_path: Path | None, markdown: bool) -> None:
    from dataclasses import replace

    from rich.console import Console
    from rich.table import Table

    from bench import kinds as scenario
    from bench import report
    from bench.stack import StackError

    counts = scenario.SMOKE if smoke else scenario.KindCounts()
    wanted = tuple(k.strip() for k in kinds.split(",") if k.strip()) if kinds else counts.kinds
    counts = replace(counts, kinds=wanted, **{k: v for k, v in (("cold_samples", cold_samples),
                                                                ("warm_calls", warm_calls)) if v is not None})
    with _RichProgress(console) as progress:
        try:
            results = scenario.run(options, counts, progress, os.environ)
        except StackError as e:
            raise click.ClickException(str(e)) from e
    rows = scenario.summary_rows(results)
    headers = ("kind", "cold start p50 (no stem cell)", "of which /init p50", "warm p50 / p99")
    table = Table(title=f"squall bench --scenario kinds ({counts.cold_samples} cold, {counts.warm_calls} warm)")
    for header in headers:
        table.add_column(header)
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)
    if markdown:
        click.echo("| " + " | ".join(headers) + " |\n|" + "---|" * len(headers) + "\n"
                   + "\n".join("| " + " | ".join(row) + " |" for row in rows))
    if json_path:
        report.write_json(results, json_path)
        console.print(f"results written to {json_path}")


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _table(rows: list[Any]) -> Any:
    from rich.table import Table

    def fmt(x: float | None) -> str:
        return "–" if x is None else f"{x:,.2f}"

    table = Table(title="squall bench (ratio = figure ÷ floor)")
    for column in ("figure", "value", "floor", "floor is", "ratio", "goal", "met"):
        table.add_column(column, justify="right" if column in ("value", "floor", "ratio") else "left")
    for r in rows:
        met = "–" if r.met is None else ("[green]yes[/]" if r.met else "[red]no[/]")
        table.add_row(r.figure, f"{fmt(r.value)} {r.unit}", fmt(r.floor), r.floor_is or "–", fmt(r.ratio),
                      r.goal or "–", met)
    return table


class _RichProgress:
    """``bench.run.Progress`` on a rich progress bar: one task per phase."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._console = console
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=console, transient=False,
                                  disable=not console.is_terminal)
        self._current: Any = None
        self._started = 0.0

    def __enter__(self) -> _RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()
        self._progress.stop()

    def phase(self, title: str, total: int | None) -> Tick:
        self._finish()
        task = self._progress.add_task(title, total=total)
        self._current = task
        self._started = time.monotonic()
        if not self._console.is_terminal:  # a log, not a screen: one line per phase instead of a bar
            self._console.print(f"{title} ...")

        def tick(n: int) -> None:
            self._progress.advance(task, n)

        return tick

    def note(self, text: str) -> None:
        self._console.print(f"[dim]{text}[/]")

    def _finish(self) -> None:
        if self._current is not None:
            task = self._progress.tasks[-1]
            if task.total is None:
                self._progress.update(self._current, total=task.completed)
            if not self._console.is_terminal:
                self._console.print(f"  done: {task.completed:g} in {time.monotonic() - self._started:.1f} s")
            self._current = None


def _find_bench() -> None:
    """Make the checkout's ``bench/`` importable: it is a tool of the source tree, not installed with Squall."""
    import importlib.util
    import sys

    if importlib.util.find_spec("bench") is not None:
        return
    checkout = Path(__file__).resolve().parents[2]
    if not (checkout / "bench" / "run.py").is_file():
        raise click.ClickException("squall bench runs from a source checkout of Squall: clone it and "
                                   "`pip install -e '.[bench]'` there, then run squall bench from that tree.")
    sys.path.insert(0, str(checkout))
