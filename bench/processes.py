"""Resident memory of the controller and the invoker while they work (psutil, sampled in a thread), and the
CPU time each spent meanwhile (to tell what one activation costs each process on a shared machine)."""

from __future__ import annotations

import threading
from typing import Any

import psutil

MB = 1024 * 1024


class ProcessSampler:
    """Samples each named process and its children every ``interval_s`` between ``start()`` and ``stop()``.

    For a gunicorn master the children are its workers: ``per_process_max_mb`` is the largest one.
    """

    def __init__(self, pids: dict[str, int], interval_s: float = 0.5) -> None:
        self._pids = pids
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-rss", daemon=True)
        self._peaks: dict[str, dict[str, float]] = {name: {"total_max_mb": 0.0, "per_process_max_mb": 0.0,
                                                           "processes": 0} for name in pids}
        self._cpu_start: dict[str, float] = {}

    def start(self) -> None:
        self._cpu_start = {name: cpu_seconds(pid) for name, pid in self._pids.items()}
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        """Per process name: peak RSS (whole tree, and the largest process), and ``cpu_s`` used meanwhile."""
        self._stop.set()
        self._thread.join()
        self._sample()
        out: dict[str, Any] = {}
        for name, peak in self._peaks.items():
            out[name] = {k: round(v, 1) for k, v in peak.items()}
            out[name]["cpu_s"] = round(cpu_seconds(self._pids[name]) - self._cpu_start.get(name, 0.0), 2)
        return out

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._sample()

    def _sample(self) -> None:
        for name, pid in self._pids.items():
            try:
                root = psutil.Process(pid)
                tree = [root, *root.children(recursive=True)]
                sizes = []
                for process in tree:
                    try:
                        sizes.append(process.memory_info().rss / MB)
                    except psutil.NoSuchProcess:
                        continue
            except psutil.NoSuchProcess:
                continue
            peak = self._peaks[name]
            peak["total_max_mb"] = max(peak["total_max_mb"], sum(sizes))
            # A gunicorn master's own RSS is small; the per-process peak is the largest of the tree.
            peak["per_process_max_mb"] = max(peak["per_process_max_mb"], max(sizes, default=0.0))
            peak["processes"] = max(peak["processes"], len(sizes))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (gunicorn's workers), 0 if it is gone."""
    try:
        root = psutil.Process(pid)
        total = 0.0
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
        return total
    except psutil.NoSuchProcess:
        return 0.0
