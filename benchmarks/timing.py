"""Timing helpers: median wall time of repeats after a warm-up, and peak memory."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Callable


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows of it."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


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


def machine_peak(simd: str | None, threads: int) -> dict:
    """This machine's peak float32 FLOP/s on ``threads`` cores: FMA units x lanes x 2 x clock.

    The clock is the highest ``cpu MHz`` of /proc/cpuinfo (a virtual machine reports its
    nominal clock there; ``CNN_EXT_CLOCK_MHZ`` overrides it). Two FMA units per core; their
    width is the widest the CPU executes at full rate: 512 bits with AVX-512, except on AMD
    before Zen 5 (family 25 and lower), whose AVX-512 runs on 256-bit units; 256 with AVX2;
    128 otherwise. ``simd`` is not used: the peak is the machine's, whichever path runs.
    """
    from cnn_ext.engines.direct.cpu import cpu_features
    features = cpu_features()
    mhz, family, vendor = None, None, ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "cpu MHz":
                mhz = max(mhz or 0.0, float(value))
            elif key == "cpu family" and family is None:
                family = int(value)
            elif key == "vendor_id" and not vendor:
                vendor = value
    mhz = float(os.environ.get("CNN_EXT_CLOCK_MHZ", mhz or 0.0))
    bits = 128
    if features["avx2"]:
        bits = 256
    if features["avx512"] and not (vendor == "AuthenticAMD" and (family or 0) <= 25):
        bits = 512
    lanes = bits // 32
    flops = threads * 2 * lanes * 2 * mhz * 1e6
    return {"flops": flops, "description": (
        f"{threads} cores x 2 FMA units x {lanes} float32 lanes ({bits}-bit) x 2 x {mhz:.0f} MHz "
        f"(clock from /proc/cpuinfo) = {flops / 1e9:.0f} GFLOP/s")}
