"""The book's layers, with its constructors, attributes and ``forward``/``backward`` calls,
computing on cnn-ext's compiled kernels (convolution, max pooling, ReLU) and on BLAS (the
affine products).

Each layer keeps the very arrays it was given (``W``, ``b``, ``gamma``, ``beta``): the book's
networks hold the same arrays in their ``params`` dict, and its optimizers update them in
place. Every ``forward`` reads them afresh, so a network whose ``load_params`` assigns new
arrays to ``layer.W`` works too. Arithmetic is in float64, as the book's (see
:mod:`cnn.book.precision` for float32); the gradients ``dW``, ``db``, ``dgamma``, ``dbeta``
have the dtype of their parameter.

Where cnn-ext's own layers (:mod:`cnn.layers`) differ on purpose: ``Dropout`` here is the
book's, which scales at test time instead of in training; ``Pooling``'s stride defaults to 2
(cnn-ext's: the window size); ``BatchNormalization`` normalises each feature of a flattened
sample, as the book's does, where cnn-ext's normalises each channel.
"""

from __future__ import annotations

import numpy as np

import cnn_ext
from cnn.book.common.functions import (cross_entropy_error, identity_function,
                                      relu, relu_grad, sigmoid, sigmoid_grad, softmax,
                                      softmax_loss, step_function, sum_squared_error)
from cnn.book.common.util import col2im, im2col
from cnn.book.precision import to_compute, to_master

#: ``from common.layers import *`` also gives what the book's module imports: ``np``, the
#: functions of :mod:`cnn.book.common.functions`, ``im2col`` and ``col2im``.
__all__ = ["Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "Dropout", "BatchNormalization",
           "Convolution", "Pooling", "identity_function", "step_function", "sigmoid",
           "sigmoid_grad", "relu", "relu_grad", "softmax", "sum_squared_error",
           "cross_entropy_error", "softmax_loss", "im2col", "col2im", "np"]

#: Added to the variance before its square root in batch normalization (the book's 10e-7).
BATCH_NORM_EPSILON = 10e-7


class Relu:
    """``max(x, 0)``. ``mask`` marks the entries that were not positive (their gradient is 0).

    Shape: any -> the same."""

    def __init__(self):
        self.out = None

    @property
    def mask(self):
        """Where the last input was not positive (None before the first forward pass)."""
        return None if self.out is None else ~(self.out > 0)

    def forward(self, x):
        self.out = cnn_ext.relu(to_compute(x))
        return self.out

    def backward(self, dout):
        return cnn_ext.relu_backward(to_compute(dout), self.out)


class Sigmoid:
    """``1 / (1 + exp(-x))``; ``out`` keeps the result for the gradient ``out * (1 - out)``.

    Shape: any -> the same."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Affine:
    """``x @ W + b`` of each sample flattened.

    Args:
        W: weights, shape (in_features, out_features).
        b: biases, shape (out_features,).

    Shape: x (N, ...) with ``in_features`` values per sample -> (N, out_features); backward
    gives dx of x's shape and fills ``dW``, ``db``."""

    def __init__(self, W, b):
        self.W, self.b = W, b
        self.x = self.original_x_shape = None
        self.dW = self.db = None

    def forward(self, x):
        x = np.asarray(x)
        self.original_x_shape = x.shape
        self.x = to_compute(x.reshape(x.shape[0], -1))
        return self.x @ to_compute(self.W) + to_compute(self.b)

    def backward(self, dout):
        dout = to_compute(dout)
        dx = dout @ to_compute(self.W).T
        self.dW = to_master(self.x.T @ dout, self.W)
        self.db = to_master(np.sum(dout, axis=0), self.b)
        return dx.reshape(self.original_x_shape)


class SoftmaxWithLoss:
    """Softmax, then the cross-entropy error against labels ``t`` (indices or one-hot rows).

    Shape: x (N, classes), t (N,) or (N, classes) -> a scalar loss; backward gives
    ``(y - t) / N``, the gradient of the mean loss with respect to x."""

    def __init__(self):
        self.loss = self.y = self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:  # one-hot labels
            return (self.y - self.t) / batch_size
        dx = self.y.copy()
        dx[np.arange(batch_size), self.t] -= 1
        return dx / batch_size


class Dropout:
    """The book's dropout: in training each entry is kept with probability
    ``1 - dropout_ratio`` (the mask drawn by ``np.random.rand``) and not rescaled; at test
    time every entry is multiplied by ``1 - dropout_ratio`` instead. (cnn-ext's own
    :class:`cnn.layers.Dropout` rescales in training, so that inference is the identity.)

    Shape: any -> the same."""

    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask


class BatchNormalization:
    """Batch normalization of each feature, the book's way: a 4-D input (N, C, H, W) is
    normalised as N samples of C*H*W features.

    Args:
        gamma: scales, one per feature.
        beta: shifts, one per feature.
        momentum: weight of the old running statistics in each update.
        running_mean: the test-time mean (zeros when None, set at the first forward pass).
        running_var: the test-time variance, likewise.

    Shape: x (N, D) or (N, C, H, W) with D = C*H*W features -> the same; backward fills
    ``dgamma`` and ``dbeta``."""

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma, self.beta, self.momentum = gamma, beta, momentum
        self.input_shape = None
        self.running_mean, self.running_var = running_mean, running_var
        self.batch_size = self.xc = self.xn = self.std = None
        self.dgamma = self.dbeta = None

    def forward(self, x, train_flg=True):
        self.input_shape = x.shape
        x = to_compute(x).reshape(x.shape[0], -1)
        if self.running_mean is None:
            self.running_mean = np.zeros(x.shape[1])
            self.running_var = np.zeros(x.shape[1])
        if train_flg:
            mean = x.mean(axis=0)
            self.xc = x - mean
            variance = np.mean(self.xc ** 2, axis=0)
            self.std = np.sqrt(variance + BATCH_NORM_EPSILON)
            self.xn = self.xc / self.std
            self.batch_size = x.shape[0]
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mean
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * variance
            normalized = self.xn
        else:
            normalized = (x - self.running_mean) / np.sqrt(self.running_var + BATCH_NORM_EPSILON)
        out = to_compute(self.gamma) * normalized + to_compute(self.beta)
        return out.reshape(self.input_shape)

    def backward(self, dout):
        dout = to_compute(dout).reshape(dout.shape[0], -1)
        gamma = to_compute(self.gamma)
        self.dbeta = to_master(dout.sum(axis=0), self.beta)
        self.dgamma = to_master(np.sum(self.xn * dout, axis=0), self.gamma)
        dxn = gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc += (2.0 / self.batch_size) * self.xc * dvar
        dx = dxc - np.sum(dxc, axis=0) / self.batch_size
        return dx.reshape(self.input_shape)


class Convolution:
    """2-D convolution (cross-correlation) on cnn-ext's convolution engines.

    Args:
        W: filters, shape (FN, C, FH, FW).
        b: biases, shape (FN,).
        stride: step between windows.
        pad: zero padding on every side.

    Shape: x (N, C, H, W) -> (N, FN, out_h, out_w) with
    ``out_h = (H + 2*pad - FH) // stride + 1``, likewise ``out_w``; backward gives dx of x's
    shape and fills ``dW`` (FN, C, FH, FW) and ``db`` (FN,)."""

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b = W, b
        self.stride, self.pad = stride, pad
        self.x = None
        self.dW = self.db = None

    def forward(self, x):
        self.x = to_compute(x)
        return cnn_ext.conv2d_forward(self.x, to_compute(self.W), to_compute(self.b),
                                      self.stride, self.pad)

    def backward(self, dout):
        dx, dW, db = cnn_ext.conv2d_backward(self.x, to_compute(self.W), to_compute(dout),
                                             self.stride, self.pad)
        self.dW, self.db = to_master(dW, self.W), to_master(db, self.b)
        return dx


class Pooling:
    """Max pooling over ``pool_h`` x ``pool_w`` windows, ``stride`` apart (2 by default, as in
    the book). Padding adds zeros around the images, which can win a window's maximum, as
    in the book's; ``arg_max`` keeps where each maximum was.

    Shape: x (N, C, H, W) -> (N, C, out_h, out_w) with
    ``out_h = (H + 2*pad - pool_h) // stride + 1``, likewise ``out_w``."""

    def __init__(self, pool_h, pool_w, stride=2, pad=0):
        self.pool_h, self.pool_w = pool_h, pool_w
        self.stride, self.pad = stride, pad
        self.x = self.arg_max = None

    def _padded(self, x):
        if not self.pad:
            return x
        sides = ((0, 0), (0, 0), (self.pad, self.pad), (self.pad, self.pad))
        return np.pad(x, sides)

    def forward(self, x):
        self.x = to_compute(x)
        out, self.arg_max = cnn_ext.maxpool_forward(self._padded(self.x), self.pool_h,
                                                    self.pool_w, self.stride)
        return out

    def backward(self, dout):
        count, channels, height, width = self.x.shape
        padded_shape = (count, channels, height + 2 * self.pad, width + 2 * self.pad)
        dx = cnn_ext.maxpool_backward(to_compute(dout), self.arg_max, padded_shape, self.pool_h,
                                      self.pool_w, self.stride)
        if self.pad:
            dx = dx[:, :, self.pad:-self.pad, self.pad:-self.pad]
        return dx
