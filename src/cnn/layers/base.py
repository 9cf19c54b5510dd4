"""The layer contract shared by every layer, the library's and the user's."""

from __future__ import annotations

import copy
import functools
from typing import Callable, Iterator

import numpy as np

__all__ = ["Layer", "SkippableInputGradient", "layers_with_rng"]

_KINDS = ("params", "grads", "buffers")


class Layer:
    """A layer with ``params`` and ``grads`` lists and ``forward``/``backward``, as in the book.

    ``grads[i]`` has the shape of ``params[i]``; ``backward`` writes into it in place
    (``self.grads[i][...] = ...``). ``buffers`` hold state saved with the model but not trained.

    Names: :meth:`add_param` and :meth:`add_buffer` register an array and its name together
    (``self.add_param("W", W)`` appends ``W`` to ``params`` and a zero gradient to ``grads``).
    A layer that fills the lists itself, the book's way, may name them in ``param_names``
    and ``buffer_names`` (``("W", "b")``); one that names none gets ``params.0``,
    ``params.1``... .

    Layers that hold layers (a :class:`~cnn.models.Sequential`, a :class:`~cnn.layers.Residual`)
    list them in :meth:`named_children`; their ``params``, ``grads`` and ``buffers`` are their own
    arrays followed by their children's, and :meth:`named_params`, :meth:`named_grads` and
    :meth:`named_buffers` walk the children, prefixing each name with the child's
    (``layers.3.body.0.W``): the one place names come from, for saved state, checkpoints, the
    optimizer, the gradient check and the distributed checks alike.

    :meth:`output_shape` gives the shape of one sample after the layer; model summaries,
    loading and interop walk a model with it.

    Traits, read by plots, the demo and interop instead of lists of classes:
    ``flattens`` (the output is a batch of vectors ``(N, D)``, whatever the input),
    ``activation`` (a nonlinearity applied to each value on its own, whose outputs are worth a
    histogram) and ``per_position`` (the output keeps the input's shape, and in inference each
    of its pixels depends only on the input's pixel at the same place, so a receptive field
    passes through unchanged; :meth:`output_shape` then returns the sample's shape).

    A layer whose training forward draws random numbers keeps its ``numpy.random.Generator``
    in ``rng`` (:class:`~cnn.layers.Dropout` does), so that the gradient check can replay its
    draws.

    The base class refuses ``backward`` (or ``backward_params``) with one ``RuntimeError`` unless
    the last ``forward`` ran with ``train=True``. A subclass's ``__init__`` must call
    ``super().__init__()`` before it fills the lists.
    """

    param_names: tuple[str, ...] = ()
    buffer_names: tuple[str, ...] = ()

    flattens: bool = False
    activation: bool = False
    per_position: bool = False

    #: False for a container whose inner layers check the training mode themselves.
    _checks_training_mode: bool = True
    _holds_layers: bool = False

    def __init__(self) -> None:
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.buffers: list[np.ndarray] = []

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        # Whether the class holds layers: the lists of one that does not are its own, as set.
        cls._holds_layers = cls.named_children is not Layer.named_children
        if not cls._checks_training_mode:
            return
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

    # The arrays: this layer's own, then its children's, in one list each.

    @property
    def params(self) -> list[np.ndarray]:
        """The trained arrays: this layer's own (the very list it assigned), then its children's."""
        own = self.__dict__.get("_own_params")
        return own if own is not None and not self._holds_layers else self._arrays("params")

    @params.setter
    def params(self, arrays: list[np.ndarray]) -> None:
        self.__dict__["_own_params"] = arrays

    @property
    def grads(self) -> list[np.ndarray]:
        """A gradient for each of :attr:`params`, in its order."""
        own = self.__dict__.get("_own_grads")
        return own if own is not None and not self._holds_layers else self._arrays("grads")

    @grads.setter
    def grads(self, arrays: list[np.ndarray]) -> None:
        self.__dict__["_own_grads"] = arrays

    @property
    def buffers(self) -> list[np.ndarray]:
        """State saved with the model but not trained: this layer's own, then its children's."""
        own = self.__dict__.get("_own_buffers")
        return own if own is not None and not self._holds_layers else self._arrays("buffers")

    @buffers.setter
    def buffers(self, arrays: list[np.ndarray]) -> None:
        self.__dict__["_own_buffers"] = arrays

    def _arrays(self, kind: str) -> list:
        children = [getattr(child, kind) for _, child in self.named_children()]
        return self._own(kind) if not children else [*self._own(kind), *sum(children, [])]

    def _own(self, kind: str) -> list:
        arrays = self.__dict__.get(f"_own_{kind}")
        if arrays is None:
            raise TypeError(f"{self.name} has no {kind!r} list: its __init__ must call "
                            f"super().__init__() before it sets its arrays (the Layer contract)")
        if not isinstance(arrays, (list, tuple)) or \
                not all(isinstance(array, np.ndarray) for array in arrays):
            raise TypeError(f"{self.name}: {kind} must be a list of numpy arrays, got "
                            f"{type(arrays).__name__}")
        return arrays

    def add_param(self, name: str, value: np.ndarray) -> np.ndarray:
        """Register ``value`` as a trained array called ``name``: it is appended to ``params``
        and a zero gradient of its shape and dtype to ``grads``. Returns ``value``."""
        self._register("params", name, value)
        self._own("grads").append(np.zeros_like(value))
        return value

    def add_buffer(self, name: str, value: np.ndarray) -> np.ndarray:
        """Register ``value``, saved but not trained (a running statistic), as ``name``."""
        return self._register("buffers", name, value)

    def _register(self, kind: str, name: str, value: np.ndarray) -> np.ndarray:
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{self.name}: {name} must be a numpy array, got {type(value).__name__}")
        names = self.__dict__.setdefault(f"_{kind}_registered", [])
        if not isinstance(name, str) or not name.isidentifier() or name in names:
            raise ValueError(f"{self.name}: each array needs a name of its own that is a Python "
                             f"identifier, got {name!r} (registered already: {names})")
        names.append(name)
        self._own(kind).append(value)
        return value

    # Names: one recursive walk over the children.

    def named_children(self) -> Iterator[tuple[str, "Layer"]]:
        """The layers this one holds, each with the name that prefixes its arrays' names
        (``("body.0", layer)``); none for most layers."""
        return iter(())

    def sublayers(self) -> list["Layer"]:
        """The layers this one holds, in the order of :meth:`named_children`."""
        return [child for _, child in self.named_children()]

    def named_params(self) -> dict[str, np.ndarray]:
        """Every parameter by name (``{"W": ..., "b": ...}``), in the order of ``params``."""
        return self._walk("params")

    def named_grads(self) -> dict[str, np.ndarray]:
        """Every gradient by the name of its parameter; ``grads`` must match ``params`` one to one."""
        return self._walk("grads")

    def named_buffers(self) -> dict[str, np.ndarray]:
        """Every buffer by name, in the order of ``buffers``."""
        return self._walk("buffers")

    def _walk(self, kind: str) -> dict[str, np.ndarray]:
        names = self._own_names("buffers" if kind == "buffers" else "params")
        arrays = self._own(kind)
        if kind == "grads" and len(arrays) != len(names):
            raise TypeError(f"{self.name}: grads holds {len(arrays)} arrays for {len(names)} params; "
                            f"give every parameter a gradient of its shape, "
                            f"self.grads = [np.zeros_like(p) for p in self.params]")
        named = dict(zip(names, arrays))
        for prefix, child in self.named_children():
            named.update({f"{prefix}.{name}": array for name, array in child._walk(kind).items()})
        return named

    def _own_names(self, kind: str) -> tuple[str, ...]:
        arrays = self._own(kind)
        registered = self.__dict__.get(f"_{kind}_registered")
        declared = tuple(registered) if registered is not None else \
            (self.param_names if kind == "params" else self.buffer_names)
        if not declared:
            return tuple(f"{kind}.{index}" for index in range(len(arrays)))
        if len(declared) != len(arrays) or len(set(declared)) != len(declared):
            raise TypeError(f"{self.name}: {kind[:-1]}_names must name each of the {len(arrays)} "
                            f"arrays of {kind} once, got {declared}")
        return declared

    # Shapes.

    def output_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of one sample after this layer, for a sample of ``sample_shape`` (no batch
        axis). Raises ``ValueError`` when the layer cannot take such a sample.

        The base class runs one zero sample through a copy of the layer in inference mode, so
        a layer of your own needs nothing more (and its state for a pending ``backward`` is left
        alone); the library's layers compute it from their settings, and a layer holding others
        combines theirs.
        """
        if self.per_position:
            return tuple(sample_shape)
        params = self._own("params")
        zero = np.zeros((1,) + tuple(sample_shape), params[0].dtype if params else np.float32)
        return copy.copy(self).forward(zero, train=False).shape[1:]

    def inner_shapes(self, sample_shape: tuple[int, ...]) -> list[tuple[str, "Layer", tuple[int, ...]]]:
        """``(name, layer, output shape)`` of each layer this one holds (a summary indents them)."""
        return []

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
        return sum(param.size for param in self.params)

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


def layers_with_rng(layer: Layer) -> list[Layer]:
    """``layer`` and every layer under it, in order, that keeps a ``numpy.random.Generator`` in
    ``rng``: the layers whose training forward draws random numbers (Dropout), whose generators
    checkpoints save and the gradient check replays."""
    own = [layer] if isinstance(getattr(layer, "rng", None), np.random.Generator) else []
    return own + [found for child in layer.sublayers() for found in layers_with_rng(child)]


def arrays_under(arrays: dict, prefix: str) -> dict:
    """The entries of ``arrays`` whose names start with ``prefix.``, by the rest of their names:
    a child's saved arrays, given its parent's."""
    start = f"{prefix}."
    return {key[len(start):]: value for key, value in arrays.items() if key.startswith(start)}


def _recording_the_mode(forward: Callable) -> Callable:
    """``forward`` that notes whether it ran in training mode (and not at all if it raised)."""

    @functools.wraps(forward)
    def forward_noting_the_mode(self, x, train=True, **options):
        self.__dict__["_trained_forward"] = False
        out = forward(self, x, train, **options)
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


class SkippableInputGradient(Layer):
    """A layer whose backward pass can skip the input gradient (a first layer needs none): it
    implements ``_gradients(dout, input_grad)``, which fills ``grads`` and returns dx when
    ``input_grad``; ``backward`` and ``backward_params`` call it."""

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self._gradients(dout, input_grad=True)

    def backward_params(self, dout: np.ndarray) -> None:
        self._gradients(dout, input_grad=False)

    def _gradients(self, dout: np.ndarray, input_grad: bool):
        raise NotImplementedError
