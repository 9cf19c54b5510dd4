"""Gradient checking: backpropagation against central finite differences.

It runs in float64 only: in float32 the finite differences themselves are only
good to about 1e-3, so their errors would say nothing about the backward pass.
Inputs that sit on a kink (a ReLU input within the step of 0, as on the blank
background of an image through a bias of 0) make finite differences wrong there;
the check warns when it sees them.

Layers whose training forward draws random numbers (:class:`~cnn.layers.Dropout`) keep their
generator in ``rng``; the check restores each generator's state before every evaluation, so
every forward pass draws the same masks as the one backpropagated. A layer that draws random
numbers some other way is found (two forward passes on the same input differ) and refused.
"""

from __future__ import annotations

import warnings
from typing import Callable, Iterable, Optional, Sequence, Union

import numpy as np

from cnn._checks import check_float
from cnn.layers.activations import Relu
from cnn.layers.dropout import Dropout
from cnn.layers.base import Layer, layers_with_rng
from cnn.models.sequential import Sequential

__all__ = ["numerical_gradient", "relative_error", "check_gradients", "GradientReport", "KinkWarning"]


class KinkWarning(UserWarning):
    """Inputs of a ReLU lie within the finite-difference step of its kink at 0."""


class GradientReport(dict):
    """``{name: relative error}`` of a gradient check, with the arrays whose gradients are zero.

    An array the loss does not depend on (a bias followed by batch normalization, which
    subtracts it again) has an analytic and a numerical gradient that are both zero up to
    rounding; their relative error would compare two roundings and read near 1, so such an
    array is reported with an error of 0.0 and named in :attr:`zero_gradients`.
    """

    def __init__(self, errors: dict[str, float], zero_gradients: Sequence[str]) -> None:
        super().__init__(errors)
        #: Names whose analytic and numerical gradients are both zero up to rounding.
        self.zero_gradients: tuple[str, ...] = tuple(zero_gradients)

    def __str__(self) -> str:
        width = max(map(len, self), default=0)
        return "\n".join(f"{name:<{width}}  " + ("zero gradient (both agree)" if name in self.zero_gradients
                                                  else f"{error:.2e}")
                         for name, error in self.items())


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6,
                       indices: Optional[Iterable[tuple[int, ...]]] = None) -> np.ndarray:
    """Central-difference gradient of the scalar ``f(x)`` with respect to ``x``.

    Each element of ``x`` is moved by ``+eps`` and ``-eps`` in place and then
    restored, so ``f`` may read ``x`` through any reference (a layer's weights).
    Returns an array of ``x``'s shape and dtype. With ``indices``, only those
    entries are computed and the others are left at 0.
    """
    eps = check_float("eps", eps)
    gradient = np.zeros_like(x)
    for index in np.ndindex(*x.shape) if indices is None else indices:
        original = x[index]
        x[index] = original + eps
        above = f(x)
        x[index] = original - eps
        below = f(x)
        x[index] = original
        gradient[index] = (above - below) / (2 * eps)
    return gradient


def relative_error(analytic: np.ndarray, numerical: np.ndarray) -> float:
    """``|a - n| / (|a| + |n|)`` with Euclidean norms; 0 when both are zero."""
    scale = np.linalg.norm(analytic) + np.linalg.norm(numerical)
    return 0.0 if scale == 0 else float(np.linalg.norm(analytic - numerical) / scale)


def check_gradients(target: Union[Sequential, Layer], x: np.ndarray, t: Optional[np.ndarray] = None,
                    eps: float = 1e-6, seed: int = 0,
                    entries_per_array: Optional[int] = None) -> GradientReport:
    """Relative error between backprop and finite differences for every parameter and the input.

    Args:
        target: a model (its loss with labels ``t`` is differentiated) or a single
            layer (the scalar ``sum(layer.forward(x) * R)`` for a fixed random ``R``).
        x: an input batch, float64 for meaningful errors.
        t: labels, needed for a model.
        eps: finite-difference step.
        seed: seed of ``R`` for a layer and of the sampled entries.
        entries_per_array: compare only this many randomly chosen entries of each
            array (default: all of them; a full LeNet takes minutes).

    Returns:
        A :class:`GradientReport`: ``{name: relative error}``, under the names
        :meth:`~cnn.models.Sequential.state_dict` uses (``"layers.0.W"``; a layer's own,
        ``"W"``, for a layer), and ``"x"``; ``print(report)`` shows it as a table.
        Dropout's masks are held fixed during the check (drawn once, reused by every
        evaluation, and the generators left as they were found); a layer that draws random
        numbers otherwise is refused by name.
    """
    if not isinstance(target, (Sequential, Layer)):
        raise TypeError(f"target must be a Sequential model or a Layer, got {type(target).__name__}")
    if isinstance(target, Sequential) and t is None:
        raise ValueError("t: a model's gradient check needs labels, got t=None")
    layers = target.layers if isinstance(target, Sequential) else [target]
    _require_float64(layers, x)
    generators = _Generators(target)
    _walk_layers(layers, x, eps, generators)
    if isinstance(target, Sequential):

        def forward():
            return target.forward(x, t, train=True)

        backward = target.backward
    else:
        projection = np.random.default_rng(seed).standard_normal(target.forward(x).shape)

        def forward():
            return float(np.sum(target.forward(x, train=True) * projection))

        def backward():
            return target.backward(projection.astype(x.dtype))

    def loss(_=None):
        generators.restore()
        return forward()

    value = loss()
    sampler = np.random.default_rng(seed)
    # Rounding in the loss, divided by the step: the size of a numerical gradient of zero.
    zero_level = 100 * (abs(value) + 1) * np.finfo(np.float64).eps / eps
    zero_gradients = []

    def error(name, analytic, array):
        if entries_per_array is None or array.size <= entries_per_array:
            numerical = numerical_gradient(loss, array, eps)
        else:
            flat = sampler.choice(array.size, entries_per_array, replace=False)
            indices = list(zip(*np.unravel_index(flat, array.shape)))
            chosen = tuple(np.array(axis) for axis in zip(*indices))
            analytic, numerical = analytic[chosen], numerical_gradient(loss, array, eps, indices)[chosen]
        if max(np.abs(analytic).max(initial=0), np.abs(numerical).max(initial=0)) <= zero_level:
            zero_gradients.append(name)
            return 0.0
        return relative_error(analytic, numerical)

    try:
        dx = backward()
        grads = target.named_grads()
        errors = {name: error(name, grads[name].copy(), param)
                  for name, param in target.named_params().items()}
        errors["x"] = error("x", dx, x)
    finally:
        generators.restore()
    return GradientReport(errors, zero_gradients)


class _Generators:
    """The generators of the layers that draw random numbers, and their states at the start."""

    def __init__(self, target: Layer) -> None:
        self.layers = layers_with_rng(target)
        self.states = [layer.rng.bit_generator.state for layer in self.layers]

    def restore(self) -> None:
        for layer, state in zip(self.layers, self.states):
            layer.rng.bit_generator.state = state


def _require_float64(layers: Sequence, x: np.ndarray) -> None:
    for index, layer in enumerate(layers):
        for param in getattr(layer, "params", []):
            if param.dtype != np.float64:
                raise TypeError(f"check_gradients needs float64: layers[{index}] ({layer!r}) has "
                                f"{param.dtype} weights, whose finite differences are only good "
                                f"to about 1e-3; build the model with dtype=np.float64 (for "
                                f"example LeNet(dtype=np.float64))")
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(f"check_gradients needs float64: x has dtype "
                        f"{getattr(x, 'dtype', type(x).__name__)}; pass x.astype(np.float64)")


def _walk_layers(layers: Sequence, x: np.ndarray, eps: float, generators: _Generators) -> None:
    """One walk through the layers in training mode, each generator replayed: warn for each ReLU
    whose input has entries within a few steps of 0 (entries a Dropout mask zeroed stay 0
    whatever the step moves, so they are no kink), and raise for the first layer whose forward
    gives two answers for one input."""
    dropped = None
    for index, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            return
        if isinstance(layer, Relu):
            near = np.abs(x) <= 10 * eps
            near = int(np.count_nonzero(near if dropped is None else near & ~dropped))
            if near:
                warnings.warn(f"{near} of {x.size} inputs of layers[{index}] (Relu) lie within "
                              f"{10 * eps:g} of its kink at 0, where finite differences are wrong: "
                              f"expect large errors for the layers before it. Inputs with no "
                              f"blank regions (random values) give a meaningful check",
                              KinkWarning, stacklevel=3)
        generators.restore()
        first = layer.forward(x, train=True)
        generators.restore()
        if not np.array_equal(first, layer.forward(x, train=True), equal_nan=True):
            where = f"layers[{index}] ({layer!r})" if len(layers) > 1 else repr(layer)
            raise ValueError(f"check_gradients needs a forward pass that gives the same output "
                             f"for the same input, but {where} gave two different "
                             f"outputs: it draws random numbers the check cannot hold fixed. Keep "
                             f"its numpy.random.Generator in self.rng (as Dropout does) so the "
                             f"check can replay its draws, or check the model without it")
        if isinstance(layer, Dropout):
            dropped = layer.mask == 0 if dropped is None else dropped | (layer.mask == 0)
        elif not layer.per_position:
            dropped = None
        x = first
