"""The kernels release the GIL: calls from several Python threads at once on different inputs
give the results of the same calls made one by one."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import cnn_ext


def call_all(x):
    col = cnn_ext.im2col(x, 5, 5, 1, 2)
    folded = cnn_ext.col2im(col, x.shape, 5, 5, 1, 2)
    out, argmax = cnn_ext.maxpool_forward(x, 3, 3, 2, 1)
    dx = cnn_ext.maxpool_backward(out, argmax, x.shape, 3, 3, 2, 1)
    pooled = cnn_ext.maxpool(x, 2, 2)
    weights = np.linspace(-1, 1, 4 * x.shape[1] * 9, dtype=x.dtype).reshape(4, x.shape[1], 3, 3)
    with cnn_ext.engine_scope():  # the scope too: entered and left by many threads at once
        conv = cnn_ext.conv2d_forward(x, weights, weights[:, 0, 0, 0], 2, 1)
        conv_grads = cnn_ext.conv2d_backward(x, weights, conv, 2, 1)
    rectified = cnn_ext.relu(x)
    return (col, folded, out, argmax, dx, pooled, conv, *conv_grads, rectified,
            cnn_ext.relu_backward(x, rectified))


@pytest.mark.parametrize("kernel_threads", [1, 2])
def test_concurrent_calls_equal_sequential_calls(kernel_threads, dtype):
    rng = np.random.default_rng(11)
    inputs = [rng.standard_normal((6, 3, 24 + i, 20 + i)).astype(dtype) for i in range(12)]
    previous = cnn_ext.get_num_threads()
    cnn_ext.set_num_threads(kernel_threads)
    try:
        sequential = [call_all(x) for x in inputs]
        with ThreadPoolExecutor(max_workers=6) as pool:
            for _ in range(3):
                concurrent = list(pool.map(call_all, inputs))
                for expected, got in zip(sequential, concurrent):
                    for expected_array, array in zip(expected, got):
                        assert_array_equal(array, expected_array)
    finally:
        cnn_ext.set_num_threads(previous)


def test_changing_the_thread_count_while_kernels_run():
    rng = np.random.default_rng(5)
    inputs = [rng.standard_normal((64, 6, 14, 14)).astype(np.float32) for _ in range(4)]
    expected = [cnn_ext.im2col(x, 5, 5, 1, 2) for x in inputs]
    previous = cnn_ext.get_num_threads()
    stop = threading.Event()

    def flip():
        while not stop.is_set():
            cnn_ext.set_num_threads(1)
            cnn_ext.set_num_threads(2)

    flipper = threading.Thread(target=flip)
    flipper.start()
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            for _ in range(20):  # raised "cannot schedule new futures after shutdown" before
                for got, want in zip(pool.map(lambda x: cnn_ext.im2col(x, 5, 5, 1, 2), inputs),
                                     expected):
                    assert_array_equal(got, want)
    finally:
        stop.set()
        flipper.join()
        cnn_ext.set_num_threads(previous)
