"""Every kernel entry point answers bad input with an exception that names the argument, says
what was expected and shows what came in. The list below is the documentation of those answers:
(call, exception, words the message must contain)."""

import numpy as np
import pytest

import cnn_ext
from cnn_ext.tests.messages import check_message

F32 = np.float32
X = np.zeros((2, 3, 6, 6), F32)
COL = cnn_ext.im2col(X, 3, 3)
OUT, ARGMAX = cnn_ext.maxpool_forward(X, 2, 2)
W = np.zeros((4, 3, 3, 3), F32)
B = np.zeros(4, F32)
DOUT = np.zeros((2, 4, 6, 6), F32)

KERNELS = [
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
    (lambda: cnn_ext.maxpool_forward(X, 2, 2, pad=2), ValueError, ["pad must be at most (pool_h - 1) * dilation = 1", "every window holds a pixel", "pad=2"]),
    (lambda: cnn_ext.maxpool_forward(X, 7, 2), ValueError, ["pool_h=7", "height 6"]),
    (lambda: cnn_ext.maxpool_backward(OUT, ARGMAX, X.shape, 3, 3), ValueError, ["dout", "(2, 3, 2, 2)", "(2, 3, 3, 3)"]),
    (lambda: cnn_ext.maxpool_backward(OUT, ARGMAX[:1], X.shape, 2, 2), ValueError, ["argmax", "(2, 3, 3, 3)", "(1, 3, 3, 3)"]),
    (lambda: cnn_ext.maxpool_backward(OUT, ARGMAX.astype(np.float64), X.shape, 2, 2), TypeError, ["argmax", "integer", "float64"]),
    (lambda: cnn_ext.maxpool_backward(OUT, ARGMAX.tolist(), X.shape, 2, 2), TypeError, ["argmax", "list"]),
    (lambda: cnn_ext.maxpool_backward(OUT, ARGMAX + 36, X.shape, 2, 2), ValueError, ["argmax", "[0, 36)", str(ARGMAX.max() + 36)]),
    (lambda: cnn_ext.maxpool_backward(OUT, ARGMAX - 100, X.shape, 2, 2), ValueError, ["argmax", "-100"]),
    (lambda: cnn_ext.maxpool_backward(OUT.astype(np.int32), ARGMAX, X.shape, 2, 2), TypeError, ["dout", "int32"]),
    (lambda: cnn_ext.maxpool_backward(OUT, ARGMAX, (2, 3, 6), 2, 2), ValueError, ["input_shape", "(2, 3, 6)"]),
    (lambda: cnn_ext.maxpool(X[0], 2, 2), ValueError, ["x", "4-D", "(3, 6, 6)"]),
    (lambda: cnn_ext.maxpool(X, 2, 2, pad=2), ValueError, ["pad must be at most (pool_h - 1) * dilation = 1", "every window holds a pixel", "pad=2"]),
    (lambda: cnn_ext.maxpool(X.astype(np.int16), 2, 2), TypeError, ["x", "int16"]),
    (lambda: cnn_ext.conv2d_forward(X[0], W, B, 1, 1), ValueError, ["x", "4-D", "(3, 6, 6)"]),
    (lambda: cnn_ext.conv2d_forward(X.astype(np.int64), W, B), TypeError, ["x", "float32 or float64", "int64"]),
    (lambda: cnn_ext.conv2d_forward(X, W[0], B), ValueError, ["W", "4-D", "(3, 3, 3)"]),
    (lambda: cnn_ext.conv2d_forward(X, W.astype(np.float64), B), TypeError, ["W", "float32", "float64"]),
    (lambda: cnn_ext.conv2d_forward(X, W[:, :2], B), ValueError, ["W", "3 input channels", "(4, 2, 3, 3)"]),
    (lambda: cnn_ext.conv2d_forward(X, W, B[:3]), ValueError, ["b", "(4,)", "(3,)"]),
    (lambda: cnn_ext.conv2d_forward(X, W, B.astype(np.float64)), ValueError, ["b", "float32", "float64"]),
    (lambda: cnn_ext.conv2d_forward(X, W, B.reshape(4, 1)), ValueError, ["b", "1-D", "(4, 1)"]),
    (lambda: cnn_ext.conv2d_forward(X, W, B, stride=0), ValueError, ["stride", "positive", "0"]),
    (lambda: cnn_ext.conv2d_forward(X, W, B, pad=-1), ValueError, ["pad", ">= 0", "-1"]),
    (lambda: cnn_ext.conv2d_forward(X, W, B, pad=1.0), TypeError, ["pad", "integer", "1.0"]),
    (lambda: cnn_ext.conv2d_forward(X, np.zeros((4, 3, 9, 3), F32), B), ValueError, ["filter_h=9", "padded input height 6"]),
    (lambda: cnn_ext.conv2d_backward(X, W, DOUT[:, :3], 1, 1), ValueError, ["dout", "(2, 4, 6, 6)", "(2, 3, 6, 6)"]),
    (lambda: cnn_ext.conv2d_backward(X, W, DOUT, 1, 0), ValueError, ["dout", "(2, 4, 4, 4)", "(2, 4, 6, 6)"]),
    (lambda: cnn_ext.conv2d_backward(X, W, DOUT.astype(np.float64), 1, 1), ValueError, ["dout", "float32", "float64"]),
    (lambda: cnn_ext.conv2d_backward(X, W, DOUT.astype(np.int8), 1, 1), TypeError, ["dout", "int8"]),
    (lambda: cnn_ext.relu(np.array(1.0)), ValueError, ["x", "scalar"]),
    (lambda: cnn_ext.relu(np.zeros((2, 0))), ValueError, ["x", "empty", "(2, 0)"]),
    (lambda: cnn_ext.relu([1, 2]), TypeError, ["x", "float32 or float64", "int64"]),
    (lambda: cnn_ext.relu_backward(X, X[:1]), ValueError, ["out", "(2, 3, 6, 6)", "(1, 3, 6, 6)"]),
    (lambda: cnn_ext.add_relu(X, X[:1]), ValueError, ["b", "(2, 3, 6, 6)", "(1, 3, 6, 6)"]),
    (lambda: cnn_ext.add_relu(X, X.astype(np.float64)), ValueError, ["b", "float32", "float64"]),
    (lambda: cnn_ext.add_relu(X.astype(np.int32), X), TypeError, ["a", "int32"]),
    (lambda: cnn_ext.relu_backward(X, X.astype(np.float64)), ValueError, ["out", "float32", "float64"]),
]

@pytest.mark.parametrize("call, exception, words", KERNELS, ids=[f"kernel{i}" for i in range(len(KERNELS))])
def test_kernels(call, exception, words):
    with pytest.raises(exception) as error:
        call()
    check_message(error, words)


def test_numpy_integer_arguments_are_accepted():
    col = cnn_ext.im2col(X, np.int64(3), np.int32(3), stride=np.int8(1), pad=np.uint8(0))
    assert col.shape == COL.shape


def test_argmax_of_another_integer_dtype_is_accepted():
    dout = np.ones_like(OUT)
    dx = cnn_ext.maxpool_backward(dout, ARGMAX.astype(np.int32), X.shape, 2, 2)
    assert dx.sum() == OUT.size
