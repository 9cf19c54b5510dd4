"""The layer contract shared by every layer, the library's and the user's."""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np

__all__ = ["Layer"]


class Layer:
    """A layer with ``params`` and ``grads`` lists and ``forward``/``backward``, as in the book.

    ``grads[i]`` has the shape of ``params[i]``; ``backward`` writes into it in
    place (``self.grads[i][...] = ...``). ``buffers`` hold state that is saved with
    the model but not trained (BatchNormalization's running statistics).

    Names: ``param_names`` and ``buffer_names`` may name the entries of ``params``
    and ``buffers`` (``("W", "b")``); a layer that declares none gets ``params.0``,
    ``params.1``... . :meth:`named_params`, :meth:`named_grads` and
    :meth:`named_buffers` are the one place names come from: a model's saved state,
    the Trainer's checkpoints, the optimizer's state and the gradient check all use them,
    so no array a layer holds is ever left out.

    The base class holds the rest of the contract for every subclass: a ``backward``
    (or ``backward_params``) is refused with the same ``RuntimeError`` unless the last
    ``forward`` ran with ``train=True``, since an inference pass keeps nothing for it.
    A subclass's ``__init__`` must call ``super().__init__()`` before it fills the lists.
    """

    param_names: tuple[str, ...] = ()
    buffer_names: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.buffers: list[np.ndarray] = []

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "forward" in cls.__dict__:
            cls.forward = _recording_the_mode(cls.__dict__["forward"])
        for method in ("backward", "backward_params"):
            if method in cls.__dict__:
                setattr(cls, method, _after_a_training_forward(cls.__dict__[method]))

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward_params(self, dout: np.ndarray) -> None:
        """Fill ``grads`` only, for a first layer whose input needs no gradient.

        Layers that can skip computing dx (Convolution, Affine) override this."""
        self.backward(dout)

    def named_params(self) -> dict[str, np.ndarray]:
        """Every parameter by name (``{"W": ..., "b": ...}``), in the order of ``params``."""
        return dict(zip(self._names("params", self.param_names), self.params))

    def named_grads(self) -> dict[str, np.ndarray]:
        """Every gradient by the name of its parameter; ``grads`` must match ``params`` one to one."""
        names = self._names("params", self.param_names)
        grads = self._array_list("grads")
        if len(grads) != len(names):
            raise TypeError(f"{self.name}: grads holds {len(grads)} arrays for {len(names)} params; "
                            f"give every parameter a gradient of its shape, "
                            f"self.grads = [np.zeros_like(p) for p in self.params]")
        return dict(zip(names, grads))

    def named_buffers(self) -> dict[str, np.ndarray]:
        """Every buffer by name, in the order of ``buffers``."""
        return dict(zip(self._names("buffers", self.buffer_names), self.buffers))

    def _names(self, kind: str, declared: tuple[str, ...]) -> tuple[str, ...]:
        arrays = self._array_list(kind)
        if not declared:
            return tuple(f"{kind}.{index}" for index in range(len(arrays)))
        if len(declared) != len(arrays) or len(set(declared)) != len(declared):
            raise TypeError(f"{self.name}: {kind[:-1]}_names must name each of the {len(arrays)} "
                            f"arrays of {kind} once, got {declared}")
        return declared

    def _array_list(self, kind: str) -> list:
        arrays = getattr(self, kind, None)
        if arrays is None:
            raise TypeError(f"{self.name} has no {kind!r} list: its __init__ must call "
                            f"super().__init__() before it sets its arrays (the Layer contract)")
        if not isinstance(arrays, (list, tuple)) or \
                not all(isinstance(array, np.ndarray) for array in arrays):
            raise TypeError(f"{self.name}: {kind} must be a list of numpy arrays, got "
                            f"{type(arrays).__name__}")
        return arrays

    def _check_dout(self, dout: np.ndarray, expected_shape: tuple[int, ...]) -> None:
        """Raise a clear error for a ``dout`` whose shape is not that of the forward output."""
        if not isinstance(dout, np.ndarray):
            raise TypeError(f"{self.name}: dout must be a numpy array of shape {expected_shape}, "
                            f"got {type(dout).__name__}")
        if dout.shape != tuple(expected_shape):
            raise ValueError(f"{self.name}: dout must have the shape of the forward output, "
                             f"{tuple(expected_shape)}, got shape {dout.shape}")

    @property
    def name(self) -> str:
        return type(self).__name__

    def num_params(self) -> int:
        return sum(param.size for param in self._array_list("params"))

    def sublayers(self) -> list["Layer"]:
        """The layers this one holds (a :class:`~cnn.layers.Residual`'s); none for most."""
        return []

    def config(self) -> dict:
        """The settings that rebuild this layer, as JSON values, for :func:`cnn.load_model`.

        The base class returns ``{}``; a layer whose constructor takes arguments returns them,
        for example ``{"features": 10}``. Arrays never belong here: they are saved by name.
        """
        return {}

    @classmethod
    def from_config(cls, config: dict, arrays: dict) -> "Layer":
        """A layer like the saved one: ``cls(**config)`` in the base class.

        Args:
            config: what :meth:`config` returned when the model was saved.
            arrays: the saved arrays of this layer by name (:meth:`named_params`,
                :meth:`named_buffers`), read and bounded already. The library's layers
                are built around them; the base class ignores them, and the model copies
                them into the new layer's arrays afterwards, checking names and shapes.
        """
        return cls(**config)

    def __repr__(self) -> str:
        return f"{self.name}()"


class NamedArrays:
    """What holders of layers share (a model, a residual block): their arrays by name, from
    ``_named(arrays_of)``, which prefixes the names ``arrays_of(layer)`` gives for each layer."""

    def _named(self, arrays_of: Callable[["Layer"], dict]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def named_params(self) -> dict[str, np.ndarray]:
        """Every parameter by name: what an optimizer's state is keyed by."""
        return self._named(lambda layer: layer.named_params())

    def named_grads(self) -> dict[str, np.ndarray]:
        """Every gradient by the name of its parameter."""
        return self._named(lambda layer: layer.named_grads())

    def named_buffers(self) -> dict[str, np.ndarray]:
        """Every buffer by name."""
        return self._named(lambda layer: layer.named_buffers())


def _recording_the_mode(forward: Callable) -> Callable:
    """``forward`` that notes whether it ran in training mode (and not at all if it raised)."""

    @functools.wraps(forward)
    def forward_noting_the_mode(self, x, train=True):
        self.__dict__["_trained_forward"] = False
        out = forward(self, x, train)
        self.__dict__["_trained_forward"] = bool(train)
        return out

    return forward_noting_the_mode


def _after_a_training_forward(backward: Callable) -> Callable:
    """``backward`` that refuses to run unless the last forward ran with ``train=True``."""

    @functools.wraps(backward)
    def backward_after_a_training_forward(self, dout, *args, **kwargs):
        if not self.__dict__.get("_trained_forward", False):
            never = "_trained_forward" not in self.__dict__
            raise RuntimeError(
                f"{self.name}: backward needs a forward pass with train=True first"
                + ("" if never else "; the last forward ran with train=False, which keeps "
                                    "nothing for backward"))
        return backward(self, dout, *args, **kwargs)

    return backward_after_a_training_forward
