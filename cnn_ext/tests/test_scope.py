"""engine_scope: the BLAS limited to one thread and restored, and the caching array allocator."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from threadpoolctl import threadpool_info

import cnn_ext
import cnn_ext.engines.unfold
from cnn_ext.runtime.memory import CACHE_BYTES, LARGEST_CACHED_BLOCK, cached_allocations
from cnn_ext.runtime.workspace import _local, scratch_bytes

BIG = 1 << 20  # bytes: well above the smallest cached block


def blas_threads():
    return [library["num_threads"] for library in threadpool_info() if library["user_api"] == "blas"]


@pytest.fixture
def empty_cache():
    cnn_ext.release_cached_memory()
    yield
    cnn_ext.release_cached_memory()


def test_blas_runs_single_threaded_inside_and_is_restored_after():
    before = blas_threads()
    assert before, "NumPy's BLAS is not visible to threadpoolctl"
    with cnn_ext.engine_scope():
        assert blas_threads() == [1] * len(before)
        with cnn_ext.engine_scope():
            assert blas_threads() == [1] * len(before)
        assert blas_threads() == [1] * len(before)
    assert blas_threads() == before


def test_blas_limit_is_restored_after_overlapping_scopes_in_threads():
    before = blas_threads()
    inside = threading.Barrier(4)

    def hold_scope(_):
        with cnn_ext.engine_scope():
            inside.wait(timeout=10)  # all four threads are inside at once
            return blas_threads()

    with ThreadPoolExecutor(max_workers=4) as pool:
        seen = list(pool.map(hold_scope, range(4)))
    assert all(threads == [1] * len(before) for threads in seen)
    assert blas_threads() == before


def test_blas_limit_is_restored_when_the_block_raises():
    before = blas_threads()
    with pytest.raises(KeyError):
        with cnn_ext.engine_scope():
            raise KeyError("boom")
    assert blas_threads() == before


def test_freed_blocks_are_reused_and_zeros_are_zero(empty_cache):
    # Only array creation happens inside the scope, so no temporary of a check is cached.
    with cached_allocations():
        first = np.full(BIG // 8, 7.0)
        address = first.ctypes.data
        del first
        cached_after_free = cnn_ext.cached_memory()
        again = np.zeros(BIG // 8)  # the same size: the dirty cached block, cleared
        cached_after_reuse = cnn_ext.cached_memory()
        other = np.ones(BIG // 4)  # another size: not taken from the cache
        same_address = again.ctypes.data == address
        other_address = other.ctypes.data == address
        zeros = not again.any()
        del again, other
        cached_at_the_end = cnn_ext.cached_memory()
    assert (cached_after_free, cached_after_reuse) == (BIG, 0)
    assert same_address and not other_address and zeros
    assert cached_at_the_end == BIG + BIG * 2
    assert cnn_ext.cached_memory() == 0  # the last scope ended: every block went back


def test_release_inside_a_scope_returns_what_is_cached(empty_cache):
    with cached_allocations():
        block = np.ones(BIG // 8)
        del block
        released = cnn_ext.release_cached_memory()
        after = cnn_ext.cached_memory()
    assert (released, after) == (BIG, 0)


@pytest.mark.parametrize("size", [BIG, 50 << 20], ids=["1-MiB", "50-MiB"])
def test_a_block_freed_after_the_scope_is_freed_not_cached(empty_cache, size):
    with cnn_ext.engine_scope():
        made_inside = np.ones(size // 8)
    assert cnn_ext.cached_memory() == 0
    del made_inside  # freed outside every scope: back to the system, not into the cache
    assert cnn_ext.cached_memory() == 0


def test_the_cache_lives_while_any_thread_has_a_scope_open(empty_cache):
    entered, leave = threading.Event(), threading.Event()

    def hold_scope():
        with cnn_ext.engine_scope():
            entered.set()
            leave.wait(timeout=10)

    holder = threading.Thread(target=hold_scope)
    holder.start()
    entered.wait(timeout=10)
    with cnn_ext.engine_scope():
        block = np.ones(BIG // 8)
    del block  # this thread's scope ended, the holder's has not
    kept_while_open = cnn_ext.cached_memory()
    leave.set()
    holder.join()
    assert kept_while_open == BIG
    assert cnn_ext.cached_memory() == 0


def test_small_arrays_and_arrays_made_outside_the_scope_are_not_cached(empty_cache):
    with cached_allocations():
        small = np.ones(1000)
        del small
        outside_made = cnn_ext.cached_memory()
    assert outside_made == 0
    outside = np.ones(BIG // 8)
    with cached_allocations():
        del outside  # made outside the handler: freed by NumPy's own
        assert cnn_ext.cached_memory() == 0


def test_the_cache_never_holds_more_than_its_limits(empty_cache):
    block = LARGEST_CACHED_BLOCK
    with cached_allocations():
        arrays = [np.ones(block // 8 - index) for index in range(20)]  # 20 sizes, > the cache
        del arrays
        held = cnn_ext.cached_memory()
        large = np.ones(block // 8 + 1)  # larger than a cached block may be: freed at once
        del large
        held_after_large = cnn_ext.cached_memory()
    assert block * 20 > CACHE_BYTES and CACHE_BYTES - block < held <= CACHE_BYTES  # filled
    assert held_after_large == held


def test_a_cache_smaller_than_a_block_frees_the_block_instead_of_walking_past_its_slots(empty_cache):
    """The eviction loop is bounded by the slots, not by the relation of the two limits: with a
    cache of 256 KiB that keeps blocks of up to 4 MiB, a 1 MiB block fits nowhere and is freed."""
    from cnn_ext.runtime.memory import _set_limits, cached_memory
    previous = _set_limits(1 << 18, 1 << 22)
    try:
        with cached_allocations():
            for _ in range(3):
                block = np.ones(BIG // 8)
                del block
                assert cached_memory() == 0
            small = np.ones((1 << 17) // 8)
            del small
            assert cached_memory() == 1 << 17
    finally:
        _set_limits(*previous)
    assert cached_memory() == 0


def test_the_cache_keeps_its_high_water_mark_until_reset(empty_cache):
    from cnn_ext.runtime.memory import cached_memory_peak
    cached_memory_peak(reset=True)
    with cached_allocations():
        arrays = [np.ones(BIG // 8 + index) for index in range(4)]
        del arrays  # four blocks of about 1 MiB kept
        held = cnn_ext.cached_memory()
        reused = np.ones(BIG // 8)  # takes one back
        assert cnn_ext.cached_memory() < held
        assert cached_memory_peak() == held
        del reused
    assert cnn_ext.cached_memory() == 0
    assert cached_memory_peak(reset=True) >= held
    assert cached_memory_peak() == 0


def test_arrays_from_the_cache_resize_and_die_in_other_threads(empty_cache):
    with cached_allocations():
        arrays = [np.arange(BIG // 8, dtype=np.float64) for _ in range(8)]
        arrays[0].resize(BIG // 4, refcheck=False)  # realloc through the handler
    assert_array_equal(arrays[0][:BIG // 8], np.arange(BIG // 8))
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(arrays.pop, [0] * 4))  # freed on other threads
    del arrays
    with cached_allocations():
        assert_array_equal(np.zeros(BIG // 8), 0)


def test_concurrent_cached_allocations_keep_their_contents(empty_cache):
    def fill_and_check(value):
        with cached_allocations():
            for _ in range(50):
                array = np.full(BIG // 8, float(value))
                assert np.all(array == value)
                del array
        return value

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(fill_and_check, range(12))) == list(range(12))


def test_unfold_engine_scratch_is_bounded_by_the_block_not_the_batch(rng):
    W = rng.standard_normal((16, 6, 5, 5))
    b = np.zeros(16)
    previous = cnn_ext.get_num_threads()
    cnn_ext.set_num_threads(1)  # all blocks on this thread, whose scratch we can read
    _local.__dict__.pop("buffers", None)  # what earlier tests left in this thread's scratch
    try:
        sizes = []
        for n_images in (16, 256, 1024):  # float64: the unfold engine
            x = rng.standard_normal((n_images, 6, 14, 14))
            out = cnn_ext.conv2d_forward(x, W, b, 1, 2)
            cnn_ext.conv2d_backward(x, W, out, 1, 2)
            sizes.append(scratch_bytes())
    finally:
        cnn_ext.set_num_threads(previous)
    per_image_columns = (6 * 25 + 1) * 14 * 14 * 8
    assert sizes[1] == sizes[2]
    assert sizes[2] <= cnn_ext.engines.unfold.BLOCK_BYTES + 2 * per_image_columns


def test_direct_engine_scratch_is_bounded_by_the_block_not_the_batch(rng):
    W = rng.standard_normal((16, 6, 5, 5)).astype(np.float32)
    b = np.zeros(16, np.float32)
    previous = cnn_ext.get_num_threads()
    cnn_ext.set_num_threads(1)  # all blocks on this thread, whose scratch we can read
    _local.__dict__.pop("buffers", None)  # what earlier tests left in this thread's scratch
    try:
        sizes = []
        for n_images in (16, 256, 1024):
            x = rng.standard_normal((n_images, 6, 14, 14)).astype(np.float32)
            out = cnn_ext.conv2d_forward(x, W, b, 1, 2)
            cnn_ext.conv2d_backward(x, W, out, 1, 2)
            sizes.append(scratch_bytes())
    finally:
        cnn_ext.set_num_threads(previous)
    assert sizes[1] == sizes[2]  # 1024 images need no more than 256
    # float32 at stride 1 runs the direct kernels: blocks of images of 1 MiB for the weight
    # gradient, beside one image at a time for the forward pass and the input gradient
    assert sizes[2] <= (1 << 20) + 2 * 4 * (6 * 18 * 18 + 16 * 14 * 18 + 16 * 6 * 25)
