"""Resident memory of the controller and the invoker while they work (psutil, sampled in a thread)."""

from __future__ import annotations

import threading
from typing import Any

import psutil

MB = 1024 * 1024


class RssSampler:
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

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join()
        self._sample()
        return {name: {k: round(v, 1) for k, v in peak.items()} for name, peak in self._peaks.items()}

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
