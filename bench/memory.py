"""This process's memory, read from ``/proc/self/status``.

``VmHWM`` (the peak RSS of this process's own address space) and not
``getrusage().ru_maxrss``: Linux carries ``ru_maxrss`` across ``exec``, so a benchmark
child forked from a parent that already held 350 MiB would report at least that.
"""

from __future__ import annotations

import resource
import threading
import time
from pathlib import Path

STATUS = Path("/proc/self/status")


def _status_mib(field: str) -> float | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def peak_rss_mib() -> float:
    """Peak RSS of this process so far (``ru_maxrss`` where there is no /proc)."""
    found = _status_mib("VmHWM")
    if found is not None:
        return found
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def current_rss_mib() -> float:
    return _status_mib("VmRSS") or 0.0


class RssSampler:
    """Samples this process's RSS twice a second, to tell which step holds the memory."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append((time.time(), current_rss_mib()))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def peak_between(self, start: float, end: float) -> float:
        return max((rss for t, rss in self.samples if start <= t <= end), default=0.0)


class CpuSampler:
    """Samples this process's CPU time (all threads) 20 times a second: a step's CPU
    seconds, which on a shared machine say more than its wall time."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.samples.append((time.time(), time.process_time()))
        while not self._stop.wait(self.interval):
            self.samples.append((time.time(), time.process_time()))

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.samples.append((time.time(), time.process_time()))

    def cpu_between(self, start: float, end: float) -> float:
        """CPU seconds between two wall-clock times (read at the samples nearest them)."""

        def at(moment: float) -> float:
            earlier = [cpu for t, cpu in self.samples if t <= moment]
            return earlier[-1] if earlier else (self.samples[0][1] if self.samples else 0.0)

        return max(0.0, at(end) - at(start))
