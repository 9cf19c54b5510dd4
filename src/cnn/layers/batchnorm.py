"""Batch normalization over the batch (and, for images, the spatial axes), by the compiled
kernels of ``cnn_ext.batchnorm``."""

from __future__ import annotations

from typing import Optional

import numpy as np

import cnn_ext
from cnn._checks import check_float, check_input, check_weight
from cnn.layers.base import Layer


class BatchNormalization(Layer):
    """Normalize each feature (or each channel of an image) by batch statistics.

    In training it uses the batch mean and variance and updates running
    averages ``running = momentum * running + (1 - momentum) * batch``; in
    inference (``train=False``) it uses the running averages.

    Args:
        gamma: the scale, shape (D,) for input (N, D) or (C,) for input (N, C, H, W).
        beta: the shift, the shape and dtype of ``gamma``.
        momentum: weight of the old running statistics, in [0, 1).
        eps: added to the variance before the square root.
        running_mean: the running mean to start from, shape and dtype of ``gamma`` (the book's
            keyword; default zeros).
        running_var: the running variance to start from, likewise (default ones).

    Shape: x (N, D) or (N, C, H, W) -> out (same shape).

    Example:
        >>> layer = BatchNormalization(np.ones(2), np.zeros(2))
        >>> out = layer.forward(np.array([[1.0, 10.0], [3.0, 30.0]]))
        >>> out.round(3)  # each feature to mean 0, variance 1 over the batch
        array([[-1., -1.],
               [ 1.,  1.]])
    """

    per_position = True
    fuses_relu = True  # forward(relu=True): see cnn.layers.fusion

    def __init__(self, gamma: np.ndarray, beta: np.ndarray, momentum: float = 0.9,
                 eps: float = 1e-5, running_mean: Optional[np.ndarray] = None,
                 running_var: Optional[np.ndarray] = None) -> None:
        super().__init__()
        gamma = check_weight("BatchNormalization", "gamma", gamma, 1, "(features,)")
        beta, running_mean, running_var = (
            self._like_gamma(gamma, name, array) for name, array in (
                ("beta", beta),
                ("running_mean", np.zeros_like(gamma) if running_mean is None else running_mean),
                ("running_var", np.ones_like(gamma) if running_var is None else running_var)))
        self.momentum = check_float("momentum", momentum, 0.0, 1.0, low_inclusive=True)
        self.eps = check_float("eps", eps)
        self.add_param("gamma", gamma)
        self.add_param("beta", beta)
        self.add_buffer("running_mean", running_mean.copy())
        self.add_buffer("running_var", running_var.copy())
        self.x = self.mean = self.var = None

    @staticmethod
    def _like_gamma(gamma: np.ndarray, name: str, array) -> np.ndarray:
        """``array`` checked to have the shape and dtype of ``gamma``."""
        array = check_weight("BatchNormalization", name, array, 1, "(features,)")
        if array.shape != gamma.shape or array.dtype != gamma.dtype:
            raise ValueError(f"BatchNormalization: {name} must have shape {gamma.shape} and dtype "
                             f"{gamma.dtype}, got shape {array.shape} and dtype {array.dtype}")
        return array

    def forward(self, x: np.ndarray, train: bool = True, relu: bool = False) -> np.ndarray:
        """The normalized, scaled and shifted x; with ``relu``, ``max(that, 0)`` computed as it
        is written (what a model asks for when a Relu follows, see :mod:`cnn.layers.fusion`)."""
        gamma, beta = self.params
        features = gamma.shape[0]
        check_input(self.name, x, (2, 4), f"(N, {features}) or (N, {features}, H, W)", gamma.dtype)
        if x.shape[1] != features:
            raise ValueError(f"BatchNormalization: expected input of shape (N, {features}) or "
                             f"(N, {features}, H, W), got shape {x.shape}")
        running_mean, running_var = self.buffers
        if train:
            out, mean, var = cnn_ext.batchnorm_forward(x, gamma, beta, self.eps, relu=relu)
            running_mean[...] = self.momentum * running_mean + (1 - self.momentum) * mean
            running_var[...] = self.momentum * running_var + (1 - self.momentum) * var
            # The backward pass needs only the input and the batch's statistics.
            self.x, self.mean, self.var = x, mean, var
        else:
            out, _, _ = cnn_ext.batchnorm_forward(x, gamma, beta, self.eps, running_mean,
                                                  running_var, relu=relu)
            # Inference keeps nothing: its backward would need the running statistics' formula.
            self.x = self.mean = self.var = None
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_dout(dout, self.x.shape)
        gamma, _ = self.params
        dx, self.grads[0][...], self.grads[1][...] = cnn_ext.batchnorm_backward(
            dout, self.x, gamma, self.mean, self.var, self.eps)
        return dx

    def output_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The sample's own shape, ``(features,)`` or ``(features, H, W)``."""
        features = self.params[0].shape[0]
        if len(sample_shape) not in (1, 3) or sample_shape[0] != features:
            raise ValueError(f"BatchNormalization needs {features} channels, ({features},) or "
                             f"({features}, H, W), gets {tuple(sample_shape)}")
        return tuple(sample_shape)

    def config(self) -> dict:
        return {"momentum": self.momentum, "eps": self.eps}

    @classmethod
    def from_config(cls, config: dict, arrays: dict) -> "BatchNormalization":
        return cls(arrays.get("gamma"), arrays.get("beta"), **config)

    def __repr__(self) -> str:
        return (f"BatchNormalization({self.params[0].shape[0]}, momentum={self.momentum}, "
                f"eps={self.eps:g})")
