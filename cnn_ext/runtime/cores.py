"""How many cores this process may use: affinity, then any cgroup CPU quota.

A container limited to 2 CPUs by a quota on a 64-core host still sees 64
cores in its affinity mask; starting 64 threads there makes every one of them
wait for the quota. The quota is read from cgroup v2 (``cpu.max``) or v1
(``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``), in the process's own cgroup
and every one above it; the tightest limit wins.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def available_cores(cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int:
    """Cores the process may run on (at least 1), within any cgroup CPU quota."""
    if hasattr(os, "process_cpu_count"):  # Python 3.13: affinity where the system has one
        cores = os.process_cpu_count() or 1
    elif hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_limit(cgroup_root, proc_cgroup)
    return max(1, min(cores, quota)) if quota is not None else max(1, cores)


def cgroup_cpu_limit(cgroup_root: Path = CGROUP_ROOT,
                     proc_cgroup: Path = PROC_CGROUP) -> Optional[int]:
    """CPUs allowed by the tightest cgroup quota over this process (rounded up), or None."""
    try:
        memberships = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    limits = []
    for line in memberships:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":  # cgroup v2, the unified hierarchy
            limits += [_v2_limit(folder) for folder in _folders(cgroup_root, path)]
        elif "cpu" in controllers.split(","):
            for mount in (cgroup_root / "cpu", cgroup_root / "cpu,cpuacct"):
                limits += [_v1_limit(folder) for folder in _folders(mount, path)]
    limits = [limit for limit in limits if limit is not None]
    return min(limits) if limits else None


def _folders(mount: Path, path: str) -> list[Path]:
    """The cgroup's folder under ``mount`` and each parent up to the mount point."""
    parts = [part for part in path.strip("/").split("/") if part]
    return [mount.joinpath(*parts[:depth]) for depth in range(len(parts), -1, -1)]


def _v2_limit(folder: Path) -> Optional[int]:
    fields = _read(folder / "cpu.max").split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    return _cpus(fields[0], fields[1])


def _v1_limit(folder: Path) -> Optional[int]:
    return _cpus(_read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us"))


def _cpus(quota: str, period: str) -> Optional[int]:
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:
        return None
    if quota_us <= 0 or period_us <= 0:  # -1: no quota
        return None
    return max(1, math.ceil(quota_us / period_us))


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""
