"""Bad arguments to the kernels raise TypeError or ValueError naming the argument."""

import numpy as np
import pytest

import cnn_ext

X = np.zeros((2, 3, 6, 6), np.float32)
COL = cnn_ext.im2col(X, 3, 3)
OUT, ARGMAX = cnn_ext.maxpool_forward(X, 2, 2)

BAD_CALLS = [
    # (call, exception, words the message must contain)
    (lambda: cnn_ext.im2col(np.zeros((3, 6, 6), np.float32), 3, 3), ValueError, ["x", "4-D", "(3, 6, 6)"]),
    (lambda: cnn_ext.im2col(X.astype(np.int64), 3, 3), TypeError, ["x", "float32 or float64", "int64"]),
    (lambda: cnn_ext.im2col(X.astype(np.complex64), 3, 3), TypeError, ["x", "complex64"]),
    (lambda: cnn_ext.im2col(X.astype(object), 3, 3), TypeError, ["x", "object"]),
    (lambda: cnn_ext.im2col(X.astype(np.float16), 3, 3), TypeError, ["x", "float16"]),
    (lambda: cnn_ext.im2col(np.zeros((0, 3, 6, 6), np.float32), 3, 3), ValueError, ["x", "empty", "(0, 3, 6, 6)"]),
    (lambda: cnn_ext.im2col(X, 0, 3), ValueError, ["filter_h", "positive", "0"]),
    (lambda: cnn_ext.im2col(X, 3, -1), ValueError, ["filter_w", "positive", "-1"]),
    (lambda: cnn_ext.im2col(X, 3.0, 3), TypeError, ["filter_h", "integer", "3.0"]),
    (lambda: cnn_ext.im2col(X, True, 3), TypeError, ["filter_h", "integer", "True"]),
    (lambda: cnn_ext.im2col(X, 3, 3, stride=0), ValueError, ["stride", "positive", "0"]),
    (lambda: cnn_ext.im2col(X, 3, 3, stride=1.5), TypeError, ["stride", "integer", "1.5"]),
    (lambda: cnn_ext.im2col(X, 3, 3, pad=-1), ValueError, ["pad", ">= 0", "-1"]),
    (lambda: cnn_ext.im2col(X, 9, 3), ValueError, ["filter_h=9", "padded input height 6"]),
    (lambda: cnn_ext.im2col(X, 3, 9, pad=1), ValueError, ["filter_w=9", "padded input width 8"]),
    (lambda: cnn_ext.col2im(COL, X.shape, 3, 2), ValueError, ["col", "shape", str(COL.shape)]),
    (lambda: cnn_ext.col2im(COL[:-1], X.shape, 3, 3), ValueError, ["col", str(COL.shape), str(COL[:-1].shape)]),
    (lambda: cnn_ext.col2im(COL.ravel(), X.shape, 3, 3), ValueError, ["col", "2-D"]),
    (lambda: cnn_ext.col2im(COL.astype(np.int32), X.shape, 3, 3), TypeError, ["col", "int32"]),
    (lambda: cnn_ext.col2im(COL, (2, 3, 6), 3, 3), ValueError, ["input_shape", "4 integers", "(2, 3, 6)"]),
    (lambda: cnn_ext.col2im(COL, (2, 3, 6, 6.0), 3, 3), ValueError, ["input_shape", "4 positive integers"]),
    (lambda: cnn_ext.col2im(COL, (2, 3, 0, 6), 3, 3), ValueError, ["input_shape", "positive"]),
    (lambda: cnn_ext.col2im(COL, "NCHW", 3, 3), ValueError, ["input_shape", "'NCHW'"]),
    (lambda: cnn_ext.col2im(COL, 4, 3, 3), ValueError, ["input_shape", "4"]),
    (lambda: cnn_ext.maxpool_forward(X[0], 2, 2), ValueError, ["x", "4-D", "(3, 6, 6)"]),
    (lambda: cnn_ext.maxpool_forward(X.astype(np.uint8), 2, 2), TypeError, ["x", "uint8"]),
    (lambda: cnn_ext.maxpool_forward(X, 0, 2), ValueError, ["pool_h", "positive"]),
    (lambda: cnn_ext.maxpool_forward(X, 2, "2"), TypeError, ["pool_w", "integer", "'2'"]),
    (lambda: cnn_ext.maxpool_forward(X, 2, 2, stride=0), ValueError, ["stride", "positive"]),
    (lambda: cnn_ext.maxpool_forward(X, 2, 2, pad=2), ValueError, ["pad", "half the pool size", "pad=2"]),
    (lambda: cnn_ext.maxpool_forward(X, 7, 2), ValueError, ["pool_h=7", "height 6"]),
    (lambda: cnn_ext.maxpool_backward(OUT, ARGMAX, X.shape, 3, 3), ValueError, ["dout", "(2, 3, 2, 2)", "(2, 3, 3, 3)"]),
    (lambda: cnn_ext.maxpool_backward(OUT, ARGMAX[:1], X.shape, 2, 2), ValueError, ["argmax", "(2, 3, 3, 3)", "(1, 3, 3, 3)"]),
    (lambda: cnn_ext.maxpool_backward(OUT, ARGMAX.astype(np.float64), X.shape, 2, 2), TypeError, ["argmax", "integer", "float64"]),
    (lambda: cnn_ext.maxpool_backward(OUT, ARGMAX.tolist(), X.shape, 2, 2), TypeError, ["argmax", "list"]),
    (lambda: cnn_ext.maxpool_backward(OUT, ARGMAX + 36, X.shape, 2, 2), ValueError, ["argmax", "[0, 36)", str(ARGMAX.max() + 36)]),
    (lambda: cnn_ext.maxpool_backward(OUT, ARGMAX - 100, X.shape, 2, 2), ValueError, ["argmax", "-100"]),
    (lambda: cnn_ext.maxpool_backward(OUT.astype(np.int32), ARGMAX, X.shape, 2, 2), TypeError, ["dout", "int32"]),
    (lambda: cnn_ext.maxpool_backward(OUT, ARGMAX, (2, 3, 6), 2, 2), ValueError, ["input_shape", "(2, 3, 6)"]),
]


@pytest.mark.parametrize("call, exception, words", BAD_CALLS, ids=[f"case{i}" for i in range(len(BAD_CALLS))])
def test_bad_input_raises_a_message_naming_the_argument(call, exception, words):
    with pytest.raises(exception) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} missing from {message!r}"


def test_numpy_integer_arguments_are_accepted():
    col = cnn_ext.im2col(X, np.int64(3), np.int32(3), stride=np.int8(1), pad=np.uint8(0))
    assert col.shape == COL.shape


def test_argmax_of_another_integer_dtype_is_accepted():
    dout = np.ones_like(OUT)
    dx = cnn_ext.maxpool_backward(dout, ARGMAX.astype(np.int32), X.shape, 2, 2)
    assert dx.sum() == OUT.size
