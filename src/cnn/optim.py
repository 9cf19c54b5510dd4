"""Optimizers: each ``update(params, grads)`` changes the parameter arrays in place.

``params`` and ``grads`` are the lists of a layer or a model (the book's second volume), or
dicts of arrays by name (its first volume, and what the Trainer passes:
``model.named_params()``, ``model.named_grads()``). Per-parameter state
(velocities, moment estimates) is kept by the parameter's name (its position,
``"0"``, ``"1"``..., for lists), created at the first update, and saved and
restored with ``state_dict``/``load_state_dict`` for checkpoints.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from cnn._checks import check_float, describe
from cnn.formats import numbered_optimizer_state, numbered_parameter

Arrays = Union[Sequence[np.ndarray], Mapping[str, np.ndarray]]

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
        #: ``state[state_name][param_name]``: for example ``state["velocity"]["layers.0.W"]``.
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def update(self, params: Arrays, grads: Arrays) -> None:
        """Update every parameter in place from its gradient (lists, or dicts by name)."""
        params, grads = _by_name("params", params), _by_name("grads", grads)
        if len(params) != len(grads):
            raise ValueError(f"params and grads must have the same length, got {len(params)} "
                             f"and {len(grads)}")
        if list(params) != list(grads):
            raise ValueError(f"grads must name the params' arrays in their order, got "
                             f"{_few(grads)} for params {_few(params)}")
        for name, param in params.items():
            if param.shape != grads[name].shape:
                raise ValueError(f"every grad must have its param's shape, got {grads[name].shape} "
                                 f"for the param {name!r} of shape {param.shape}")
        if not self.state:
            self.state = {kind: {name: np.zeros_like(param) for name, param in params.items()}
                          for kind in self.state_names}
        for kind, values in self.state.items():
            if list(values) != list(params) or any(values[name].shape != param.shape
                                                   for name, param in params.items()):
                raise ValueError(f"{type(self).__name__}: the state {kind!r} holds {_few(values)}, "
                                 f"which does not match the params given, {_few(params)}; "
                                 f"was it loaded from another model?")
        self.steps += 1
        for name, param in params.items():
            grad = grads[name]
            if self.weight_decay:
                grad = grad + param.dtype.type(self.weight_decay) * param
            self.step(name, param, grad)

    def step(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        """Update ``param`` (the parameter called ``name``) in place from ``grad``."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat dict of arrays: the step count and every state array, ``{state}.{param name}``
        (for example ``first_moment.layers.0.W``)."""
        arrays = {"steps": np.array(self.steps)}
        for kind, values in self.state.items():
            for name, value in values.items():
                arrays[f"{kind}.{name}"] = value
        return arrays

    def load_state_dict(self, arrays: Mapping[str, np.ndarray],
                        names: Optional[Sequence[str]] = None) -> None:
        """Restore what :meth:`state_dict` returned (for example from an ``.npz`` file).

        ``names``: the parameter names, in order, for a state saved by cnn-ext 0.1, which
        numbered its arrays (``first_moment_0``...) instead of naming them.
        """
        self.steps = int(arrays["steps"])
        state = {}
        for kind in self.state_names:
            named = {key[len(kind) + 1:]: np.array(value) for key, value in arrays.items()
                     if key.startswith(f"{kind}.")}
            state[kind] = named or numbered_optimizer_state(arrays, kind, names,
                                                            type(self).__name__)
        if self.steps and any(not values for values in state.values()):
            raise ValueError(f"{type(self).__name__}: the saved state lacks "
                             f"{', '.join(self.state_names)}")
        # A state saved before the first step holds no arrays: they are created at the next update.
        self.state = state if all(state.values()) else {}

    def check_state(self, specs: Mapping[str, Any], params: Mapping[str, np.ndarray],
                    source: str = "the state") -> None:
        """Refuse a saved state (arrays, or a file's headers: anything with ``shape`` and
        ``dtype``) that this optimizer could not continue with the named ``params``.

        Allowed: ``steps`` (a 0-d integer), and for each of :attr:`state_names` an array of
        each parameter's shape and dtype, ``{state}.{name}``, or by position, ``{state}_{i}``,
        as cnn-ext 0.1 saved it. Raises ``ValueError`` naming the first entry that is not.
        """
        names = list(params)
        for key, spec in specs.items():
            if key == "steps":
                if tuple(spec.shape) != () or spec.dtype.kind not in "iu":
                    raise ValueError(f"{source}: the optimizer's 'steps' must be one integer, got "
                                     f"shape {tuple(spec.shape)} and dtype {spec.dtype}")
                continue
            kind, separator, name = _split_state_key(key, self.state_names)
            if separator == "_":
                name = numbered_parameter(name, names)
            if name not in params:
                raise ValueError(f"{source}: the optimizer's state holds {key!r}, which is no state "
                                 f"of {type(self).__name__} for these params ({_few(params)})")
            param = params[name]
            if tuple(spec.shape) != param.shape or spec.dtype != param.dtype:
                raise ValueError(f"{source}: the optimizer's {key!r} has shape "
                                 f"{tuple(spec.shape)} and dtype {spec.dtype}, its param "
                                 f"{name!r} {param.shape} {param.dtype}")
        if "steps" not in specs:
            raise ValueError(f"{source}: the optimizer's state has no 'steps' entry")

    def settings(self) -> dict:
        """What decides this optimizer's updates, field by field: its class and every number it
        was built with (``{"class": "Adam", "lr": 0.001, "beta1": 0.9, ...}``), the step count
        and the per-parameter state left out. Runs compare these, never the repr."""
        numbers = {key: value for key, value in vars(self).items()
                   if key != "steps" and isinstance(value, (int, float)) and not isinstance(value, bool)}
        return {"class": type(self).__name__, **numbers}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr})"


def _split_state_key(key: str, state_names: Sequence[str]) -> tuple[str, str, str]:
    """``(state name, separator, parameter)`` of ``first_moment.layers.0.W`` or ``first_moment_0``
    (empty strings when the key starts with no state name)."""
    for kind in state_names:
        for separator in (".", "_"):
            if key.startswith(kind + separator):
                return kind, separator, key[len(kind) + 1:]
    return "", "", ""


class SGD(Optimizer):
    """``param -= lr * grad``."""

    def step(self, name, param, grad):
        param -= param.dtype.type(self.lr) * grad


class Momentum(Optimizer):
    """``v = momentum * v - lr * grad; param += v``."""

    state_names = ("velocity",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.momentum = check_float("momentum", momentum, 0.0, 1.0, low_inclusive=True)

    def step(self, name, param, grad):
        velocity = self.state["velocity"][name]
        velocity *= param.dtype.type(self.momentum)
        velocity -= param.dtype.type(self.lr) * grad
        param += velocity


class Nesterov(Momentum):
    """Nesterov's accelerated gradient: the momentum step looks ahead,
    ``param += momentum * v_new - lr * grad`` with ``v_new = momentum * v - lr * grad``."""

    def step(self, name, param, grad):
        velocity = self.state["velocity"][name]
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

    def step(self, name, param, grad):
        squares = self.state["sum_of_squares"][name]
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

    def step(self, name, param, grad):
        mean_square = self.state["mean_square"][name]
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

    def step(self, name, param, grad):
        first, second = self.state["first_moment"][name], self.state["second_moment"][name]
        float_type = param.dtype.type
        first += float_type(1 - self.beta1) * (grad - first)
        second += float_type(1 - self.beta2) * (grad * grad - second)
        first_unbiased = first / float_type(1 - self.beta1 ** self.steps)
        second_unbiased = second / float_type(1 - self.beta2 ** self.steps)
        param -= float_type(self.lr) * first_unbiased / (np.sqrt(second_unbiased) + float_type(self.eps))


#: The optimizers by their lower-case names, as :func:`make_optimizer` and ``cnn-train --optimizer`` take them.
OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad,
              "rmsprop": RMSprop, "adam": Adam}


def _by_name(argument: str, arrays: Arrays) -> dict[str, np.ndarray]:
    """Arrays by name: a dict as it is, a list or tuple by position ("0", "1"...)."""
    if isinstance(arrays, Mapping):
        named = dict(arrays)
    elif isinstance(arrays, (list, tuple)):
        named = {str(index): array for index, array in enumerate(arrays)}
    else:
        raise TypeError(f"{argument} must be a list of arrays or a dict of arrays by name, got "
                        f"{describe(arrays)}")
    for name, array in named.items():
        if not isinstance(array, np.ndarray):
            raise TypeError(f"{argument}[{name!r}] must be a numpy array, got {describe(array)}")
    return named


def _few(arrays: Mapping, count: int = 3) -> str:
    names = list(arrays)
    return "[" + ", ".join(repr(name) for name in names[:count]) + \
        (f", ... {len(names)} in all]" if len(names) > count else "]")


def make_optimizer(name: str, lr: float, **options) -> Optimizer:
    """Build an optimizer by its lower-case name (one of ``OPTIMIZERS``)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got optimizer={name!r}")
    return OPTIMIZERS[name](lr=lr, **options)
