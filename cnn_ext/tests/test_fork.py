"""A child made by fork after the engine has run uses the engine as the parent does.

Each scenario runs in a fresh interpreter with a time limit, so that a hang (a child
waiting on the parent's pool or BLAS keeper thread) fails the test instead of stopping
the suite.
"""

import os
import subprocess
import sys
import tempfile
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")

PRELUDE = """
import os, sys, threading, warnings
import numpy as np
from threadpoolctl import threadpool_info
import cnn_ext

warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork of a threaded process

def blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

def engine_work(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((64, 6, 14, 14)).astype(np.float32)  # enough work for two threads
    W = rng.standard_normal((16, 6, 5, 5)).astype(np.float32)
    with cnn_ext.engine_scope():
        out = cnn_ext.conv2d_forward(x, W, np.zeros(16, np.float32), 1, 2)
        dx, dW, db = cnn_ext.conv2d_backward(x, W, out, 1, 2)
        pooled = cnn_ext.maxpool(cnn_ext.relu(out), 2, 2)
        inside = blas_threads()
    return [out, dx, dW, db, pooled], inside

def in_child(check):
    '''Fork, run check() in the child, return the child's exit status (0: check passed).'''
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if check() else 1)
        except BaseException as error:
            print("child failed:", repr(error), file=sys.stderr)
            os._exit(2)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

cnn_ext.set_num_threads(2)
before = blas_threads()
expected, _ = engine_work(0)  # the engine has run: its pool and BLAS keeper exist
"""


def run_scenario(body: str, timeout: float = 60) -> None:
    script = PRELUDE + textwrap.dedent(body)
    try:  # from a temporary directory: never the source folder of a clone, which has no built modules
        with tempfile.TemporaryDirectory() as elsewhere:
            result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                    timeout=timeout, cwd=elsewhere)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the scenario hung for {timeout} s (a forked child waiting forever?)")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_forked_child_runs_threaded_kernels_and_scopes_like_its_parent():
    run_scenario("""
        def check():
            results, inside = engine_work(0)
            same = all(np.array_equal(a, b) for a, b in zip(results, expected))
            return same and inside == [1] * len(before) and blas_threads() == before
        assert in_child(check) == 0
        results, _ = engine_work(0)  # the parent is unaffected
        assert all(np.array_equal(a, b) for a, b in zip(results, expected))
    """)


def test_a_child_forked_inside_a_scope_closes_it_and_restores_the_blas():
    run_scenario("""
        with cnn_ext.engine_scope():
            pid = os.fork()
            inherited = blas_threads()  # the child is inside the scope it was forked in
        if pid == 0:
            try:
                ok = inherited == [1] * len(before) and blas_threads() == before
                results, inside = engine_work(0)
                ok = ok and inside == [1] * len(before) and cnn_ext.cached_memory() == 0 and \\
                    all(np.array_equal(a, b) for a, b in zip(results, expected))
            except BaseException as error:
                print("child failed:", repr(error), file=sys.stderr)
                os._exit(2)
            os._exit(0 if ok else 1)
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
        assert blas_threads() == before
    """)


def test_a_child_forked_while_another_thread_is_in_a_scope_starts_clean():
    run_scenario("""
        entered, leave = threading.Event(), threading.Event()

        def hold_scope():
            with cnn_ext.engine_scope():
                big = np.ones(1 << 20)  # freed inside the scope: cached
                del big
                entered.set()
                leave.wait()

        holder = threading.Thread(target=hold_scope)
        holder.start()
        entered.wait()
        assert cnn_ext.cached_memory() > 0

        def check():
            # The holder does not exist here: its scope is closed, its cache released.
            if blas_threads() != before or cnn_ext.cached_memory() != 0:
                return False
            results, inside = engine_work(0)
            return inside == [1] * len(before) and \\
                all(np.array_equal(a, b) for a, b in zip(results, expected))

        status = in_child(check)
        leave.set()
        holder.join()
        assert status == 0
        assert blas_threads() == before and cnn_ext.cached_memory() == 0
    """)


def test_forks_while_other_threads_allocate_from_the_cache_never_hang():
    run_scenario("""
        stop = threading.Event()

        def churn():
            with cnn_ext.engine_scope():
                while not stop.is_set():
                    block = np.ones(1 << 17)
                    del block

        threads = [threading.Thread(target=churn) for _ in range(2)]
        for thread in threads:
            thread.start()

        def check():
            with cnn_ext.engine_scope():
                for _ in range(20):
                    block = np.ones(1 << 17)
                    del block
            return cnn_ext.cached_memory() == 0

        statuses = [in_child(check) for _ in range(100)]
        stop.set()
        for thread in threads:
            thread.join()
        assert statuses == [0] * 100, statuses
    """, timeout=120)
