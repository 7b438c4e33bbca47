"""Optional py-spy profiles of the controller's workers and the invoker while a phase runs
(``squall bench --profile DIR``): one flame graph (SVG) per process and phase."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil


class Profiler:
    def __init__(self, pids: dict[str, int], directory: Path, rate_hz: int = 100) -> None:
        self._pids = pids
        self._directory = directory
        self._rate_hz = rate_hz
        found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self._binary = found if Path(found).exists() else None

    @property
    def available(self) -> bool:
        return self._binary is not None and bool(self._pids)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Record every target process (gunicorn's workers, not its master) until the block ends."""
        if not self.available:
            yield
            return
        self._directory.mkdir(parents=True, exist_ok=True)
        recorders = []
        for role, pid in self._pids.items():
            children = psutil.Process(pid).children()
            for target in children if role == "controller" and children else [psutil.Process(pid)]:
                out = self._directory / f"{name}-{role}-{target.pid}.svg"
                recorders.append(subprocess.Popen(
                    [str(self._binary), "record", "--idle", "-r", str(self._rate_hz), "-p", str(target.pid),
                     "-o", str(out)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL))
        try:
            yield
        finally:
            for recorder in recorders:
                recorder.send_signal(signal.SIGINT)  # py-spy writes its output when interrupted
            for recorder in recorders:
                try:
                    recorder.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    recorder.kill()
                    recorder.wait()
