"""Timing helpers: median wall time of repeats after a warm-up, and peak memory."""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

#: A chain of 32 dependent integer additions per loop turn, each one cycle on every x86-64 core:
#: timed, it gives the clock a core really runs at (a virtual machine's /proc/cpuinfo reports its
#: nominal clock, and turbo clocks are higher).
_CLOCK_CHAIN = r"""
#include <stdint.h>
uint64_t chain(uint64_t turns, uint64_t value) {
    for (uint64_t turn = 0; turn < turns; turn++)
        __asm__ volatile(
            "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
            "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
            "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
            "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
            "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
            "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
            "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
            "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
            : "+r"(value));
    return value;
}
"""


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows of it."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=None)
def measured_clock_mhz(turns: int = 20_000_000) -> Optional[float]:
    """The clock one core runs at, in MHz, measured by timing a chain of dependent additions
    (compiled here with the system's C compiler; x86-64 only). The best of five runs, so that an
    interruption does not count; measured once per process. None where it cannot be measured."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    with tempfile.TemporaryDirectory() as folder:
        source, library = Path(folder) / "chain.c", Path(folder) / "chain.so"
        source.write_text(_CLOCK_CHAIN)
        try:
            subprocess.run(["cc", "-O2", "-shared", "-fPIC", str(source), "-o", str(library)],
                           check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            return None
        chain = ctypes.CDLL(str(library)).chain
        chain.restype, chain.argtypes = ctypes.c_uint64, [ctypes.c_uint64, ctypes.c_uint64]
        chain(turns // 10, 0)  # wake the core up to its working clock
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            chain(turns, 0)
            best = min(best, time.perf_counter() - started)
    return 32 * turns / best / 1e6


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

    The clock is measured (:func:`measured_clock_mhz`); ``CNN_EXT_CLOCK_MHZ`` overrides it, and
    where it cannot be measured the highest ``cpu MHz`` of /proc/cpuinfo stands in. Two FMA
    units per core; their width is the widest the CPU executes at full rate: 512 bits with
    AVX-512, except on AMD before Zen 5 (family 25 and lower), whose AVX-512 runs on 256-bit
    units; 256 with AVX2; 128 otherwise. ``simd`` is not used: the peak is the machine's,
    whichever path runs.
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
    source = "/proc/cpuinfo"
    if "CNN_EXT_CLOCK_MHZ" in os.environ:
        source = "CNN_EXT_CLOCK_MHZ"
    elif (measured := measured_clock_mhz()) is not None:
        mhz, source = measured, "measured"
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
        f"(clock: {source}) = {flops / 1e9:.0f} GFLOP/s")}
