"""Timing helpers: median wall time of repeats after a warm-up, and peak memory."""

from __future__ import annotations

import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Callable


def median_seconds(function: Callable[[], object], repeats: int = 7, warmup: int = 2) -> float:
    """Median wall-clock seconds of ``repeats`` calls of ``function`` after ``warmup`` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    On Linux this is VmHWM, which starts afresh in a new program; ru_maxrss would
    carry over the peak of the parent that started it (it survives execve).
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1e3  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1e3  # bytes on macOS, KB elsewhere


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1e3  # kB
    raise RuntimeError(f"/proc/self/status has no {field}")


def peak_growth_mb(function: Callable[[], object]) -> float:
    """How far the resident memory rose above its level before ``function()``, in MB, at its peak.

    Linux only: the peak (VmHWM) is reset to the current size by writing 5 to
    /proc/self/clear_refs. Elsewhere returns NaN.
    """
    clear_refs = Path("/proc/self/clear_refs")
    if not clear_refs.exists():
        return float("nan")
    clear_refs.write_text("5")
    before = _status_mb("VmRSS")
    function()
    return _status_mb("VmHWM") - before
