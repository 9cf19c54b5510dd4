"""The default thread count: the cores this process may use, within any cgroup CPU quota."""

import os
import subprocess
import sys

import pytest

from cnn_ext.runtime.cores import available_cores, cgroup_cpu_limit


def affinity():
    if hasattr(os, "process_cpu_count"):
        return os.process_cpu_count()
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def cgroup_tree(tmp_path, membership, files):
    """A fake /sys/fs/cgroup under tmp_path and a /proc/self/cgroup naming the process's groups."""
    for relative, text in files.items():
        path = tmp_path / "cgroup" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(membership)
    return tmp_path / "cgroup", proc


@pytest.mark.parametrize("cpu_max, expected", [("max 100000\n", None), ("100000 100000\n", 1),
                                               ("150000 100000\n", 2), ("50000 100000\n", 1),
                                               ("garbage\n", None)])
def test_cgroup_v2_quota_is_rounded_up(tmp_path, cpu_max, expected):
    root, proc = cgroup_tree(tmp_path, "0::/job\n", {"job/cpu.max": cpu_max})
    assert cgroup_cpu_limit(root, proc) == expected


def test_the_tightest_quota_above_the_process_wins(tmp_path):
    root, proc = cgroup_tree(tmp_path, "0::/outer/inner\n", {
        "cpu.max": "max 100000\n", "outer/cpu.max": "100000 100000\n",
        "outer/inner/cpu.max": "400000 100000\n"})
    assert cgroup_cpu_limit(root, proc) == 1


def test_cgroup_v1_quota_and_no_quota(tmp_path):
    root, proc = cgroup_tree(tmp_path, "4:memory:/x\n3:cpu,cpuacct:/pod\n", {
        "cpu,cpuacct/pod/cpu.cfs_quota_us": "100000\n", "cpu,cpuacct/pod/cpu.cfs_period_us": "100000\n"})
    assert cgroup_cpu_limit(root, proc) == 1
    root, proc = cgroup_tree(tmp_path / "none", "1:cpu:/\n", {
        "cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"})
    assert cgroup_cpu_limit(root, proc) is None


def test_a_quota_below_the_affinity_limits_the_thread_count(tmp_path):
    root, proc = cgroup_tree(tmp_path, "0::/\n", {"cpu.max": "100000 100000\n"})
    assert available_cores(root, proc) == 1
    root, proc = cgroup_tree(tmp_path / "wide", "0::/\n", {"cpu.max": "6400000 100000\n"})
    assert available_cores(root, proc) == affinity()  # a quota above the affinity changes nothing


def test_no_cgroup_information_means_the_affinity(tmp_path):
    assert available_cores(tmp_path / "absent", tmp_path / "absent-proc") == affinity()


def test_the_default_thread_count_is_the_available_cores(tmp_path):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("CNN_EXT_NUM_THREADS", "OMP_NUM_THREADS")}
    script = "import cnn_ext, cnn_ext.runtime.cores as c; print(cnn_ext.get_num_threads(), c.available_cores())"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=environment, check=True, cwd=tmp_path)
    threads, cores = result.stdout.split()
    assert threads == cores
