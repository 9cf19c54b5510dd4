"""Optimizers: each ``update(params, grads)`` changes the parameter arrays in place.

``params`` and ``grads`` are the lists of a layer or a model. Per-parameter
state (velocities, moment estimates) is created at the first update and can be
saved and restored with ``state_dict``/``load_state_dict`` for checkpoints.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cnn._checks import check_float

__all__ = ["Optimizer", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "OPTIMIZERS",
           "make_optimizer"]


class Optimizer:
    """Base class: learning rate, optional L2 weight decay and per-parameter state.

    Args:
        lr: learning rate, a positive finite number.
        weight_decay: L2 penalty factor (>= 0) added to every gradient as ``weight_decay * param``.
    """

    state_names: tuple[str, ...] = ()

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        self.lr = check_float("lr", lr)
        self.weight_decay = check_float("weight_decay", weight_decay, low_inclusive=True)
        self.steps = 0
        self.state: dict[str, list[np.ndarray]] = {}

    def update(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        if len(params) != len(grads):
            raise ValueError(f"params and grads must have the same length, got {len(params)} "
                             f"and {len(grads)}")
        for param, grad in zip(params, grads):
            if param.shape != grad.shape:
                raise ValueError(f"every grad must have its param's shape, got {grad.shape} "
                                 f"for a param of shape {param.shape}")
        if not self.state:
            self.state = {name: [np.zeros_like(p) for p in params] for name in self.state_names}
        for name, values in self.state.items():
            if len(values) != len(params) or any(value.shape != param.shape
                                                 for value, param in zip(values, params)):
                raise ValueError(f"{type(self).__name__}: the state {name!r} holds "
                                 f"{len(values)} arrays that do not match the {len(params)} params "
                                 f"given; was it loaded from another model?")
        self.steps += 1
        for index, (param, grad) in enumerate(zip(params, grads)):
            if self.weight_decay:
                grad = grad + param.dtype.type(self.weight_decay) * param
            self.step(index, param, grad)

    def step(self, index: int, param: np.ndarray, grad: np.ndarray) -> None:
        """Update ``param`` (the ``index``-th parameter) in place from ``grad``."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat dict of arrays: the step count and every state array."""
        arrays = {"steps": np.array(self.steps)}
        for name, values in self.state.items():
            for index, value in enumerate(values):
                arrays[f"{name}_{index}"] = value
        return arrays

    def load_state_dict(self, arrays) -> None:
        """Restore what :meth:`state_dict` returned (for example from an ``.npz`` file)."""
        self.steps = int(arrays["steps"])
        state = {}
        for name in self.state_names:
            keys = sorted((key for key in arrays if key.startswith(f"{name}_")
                           and key[len(name) + 1:].isdigit()), key=lambda k: int(k[len(name) + 1:]))
            state[name] = [np.array(arrays[key]) for key in keys]
        if self.steps and any(not values for values in state.values()):
            raise ValueError(f"{type(self).__name__}: the saved state lacks "
                             f"{', '.join(self.state_names)}")
        # A state saved before the first step holds no arrays: they are created at the next update.
        self.state = state if all(state.values()) else {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr})"


class SGD(Optimizer):
    """``param -= lr * grad``."""

    def step(self, index, param, grad):
        param -= param.dtype.type(self.lr) * grad


class Momentum(Optimizer):
    """``v = momentum * v - lr * grad; param += v``."""

    state_names = ("velocity",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.momentum = check_float("momentum", momentum, 0.0, 1.0, low_inclusive=True)

    def step(self, index, param, grad):
        velocity = self.state["velocity"][index]
        velocity *= param.dtype.type(self.momentum)
        velocity -= param.dtype.type(self.lr) * grad
        param += velocity


class Nesterov(Momentum):
    """Nesterov's accelerated gradient: the momentum step looks ahead,
    ``param += momentum * v_new - lr * grad`` with ``v_new = momentum * v - lr * grad``."""

    def step(self, index, param, grad):
        velocity = self.state["velocity"][index]
        momentum, lr = param.dtype.type(self.momentum), param.dtype.type(self.lr)
        velocity *= momentum
        velocity -= lr * grad
        param += momentum * velocity - lr * grad


class AdaGrad(Optimizer):
    """``h += grad**2; param -= lr * grad / (sqrt(h) + eps)``."""

    state_names = ("sum_of_squares",)

    def __init__(self, lr: float = 0.01, eps: float = 1e-7, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.eps = check_float("eps", eps)

    def step(self, index, param, grad):
        squares = self.state["sum_of_squares"][index]
        squares += grad * grad
        param -= param.dtype.type(self.lr) * grad / (np.sqrt(squares) + param.dtype.type(self.eps))


class RMSprop(Optimizer):
    """``h = decay * h + (1 - decay) * grad**2; param -= lr * grad / (sqrt(h) + eps)``."""

    state_names = ("mean_square",)

    def __init__(self, lr: float = 0.001, decay: float = 0.99, eps: float = 1e-7,
                 weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.decay = check_float("decay", decay, 0.0, 1.0, low_inclusive=True)
        self.eps = check_float("eps", eps)

    def step(self, index, param, grad):
        mean_square = self.state["mean_square"][index]
        decay = param.dtype.type(self.decay)
        mean_square *= decay
        mean_square += (1 - decay) * grad * grad
        param -= param.dtype.type(self.lr) * grad / (np.sqrt(mean_square) + param.dtype.type(self.eps))


class Adam(Optimizer):
    """Adam with bias-corrected first and second moment estimates (Kingma & Ba, 2015)."""

    state_names = ("first_moment", "second_moment")

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.beta1 = check_float("beta1", beta1, 0.0, 1.0, low_inclusive=True)
        self.beta2 = check_float("beta2", beta2, 0.0, 1.0, low_inclusive=True)
        self.eps = check_float("eps", eps)

    def step(self, index, param, grad):
        first, second = self.state["first_moment"][index], self.state["second_moment"][index]
        float_type = param.dtype.type
        first += float_type(1 - self.beta1) * (grad - first)
        second += float_type(1 - self.beta2) * (grad * grad - second)
        first_unbiased = first / float_type(1 - self.beta1 ** self.steps)
        second_unbiased = second / float_type(1 - self.beta2 ** self.steps)
        param -= float_type(self.lr) * first_unbiased / (np.sqrt(second_unbiased) + float_type(self.eps))


#: The optimizers by their lower-case names, as :func:`make_optimizer` and ``cnn-train --optimizer`` take them.
OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad,
              "rmsprop": RMSprop, "adam": Adam}


def make_optimizer(name: str, lr: float, **options) -> Optimizer:
    """Build an optimizer by its lower-case name (one of ``OPTIMIZERS``)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got optimizer={name!r}")
    return OPTIMIZERS[name](lr=lr, **options)
