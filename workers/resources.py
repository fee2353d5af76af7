"""CPU and memory of a worker (its own process and its child), sampled for /workers and the stats."""

from __future__ import annotations

import time

import psutil

SAMPLE_EVERY_S = 5.0


class ResourceMeter:
    """Samples at most every 5 s; CPU percent is over the time since the previous sample."""

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}
        self._next = 0.0

    def due(self) -> bool:
        return time.monotonic() >= self._next

    def sample(self, child_pid: int | None) -> tuple[float, float]:
        """(cpu percent, resident MB) of this process and `child_pid`."""
        self._next = time.monotonic() + SAMPLE_EVERY_S
        cpu = rss = 0.0
        for pid in (None, child_pid):
            proc = self._process(pid)
            if proc is None:
                continue
            try:
                cpu += proc.cpu_percent(None)
                rss += proc.memory_info().rss
            except psutil.Error:
                self._procs.pop(proc.pid, None)
        return cpu, rss / (1024 * 1024)

    def _process(self, pid: int | None) -> psutil.Process | None:
        key = pid or 0
        proc = self._procs.get(key)
        if proc is None or (pid is not None and proc.pid != pid):
            try:
                proc = psutil.Process(pid)
            except psutil.Error:
                return None
            self._procs[key] = proc
        return proc
