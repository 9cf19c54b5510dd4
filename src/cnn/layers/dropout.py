"""Dropout."""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

from cnn._checks import check_float, check_input, generator_from_state
from cnn.layers.base import Layer


class Dropout(Layer):
    """Inverted dropout: in training each element is zeroed with probability
    ``ratio`` and the survivors are scaled by ``1 / (1 - ratio)``, so inference
    (``train=False``) is the identity.

    Args:
        ratio: drop probability in [0, 1).
        seed: an int seed or a ``numpy.random.Generator`` for the masks.
        dropout_ratio: the book's name for ``ratio``; give one of the two.

    Shape: x (any) -> out (same shape).

    Example:
        >>> layer = Dropout(0.5, seed=0)
        >>> out = layer.forward(np.ones((1, 8)))
        >>> sorted(set(out.ravel().tolist()))  # dropped, or kept and scaled by 1 / (1 - 0.5)
        [0.0, 2.0]
        >>> float(layer.forward(np.ones((1, 8)), train=False).sum())  # inference: the identity
        8.0
    """

    per_position = True

    def __init__(self, ratio: Optional[float] = None,
                 seed: Optional[Union[int, np.random.Generator]] = None, *,
                 dropout_ratio: Optional[float] = None) -> None:
        super().__init__()
        if ratio is not None and dropout_ratio is not None:
            raise TypeError(f"give ratio or the book's dropout_ratio, not both: got ratio={ratio!r} "
                            f"and dropout_ratio={dropout_ratio!r}")
        name, value = ("dropout_ratio", dropout_ratio) if dropout_ratio is not None else ("ratio", ratio)
        self.ratio = check_float(name, 0.5 if value is None else value, 0.0, 1.0, low_inclusive=True)
        self.rng = np.random.default_rng(seed)
        self.mask = None
        self.x_shape = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, range(1, 33), "(N, ...)")
        if not train:
            self.x_shape = self.mask = None
            return x
        self.x_shape = x.shape
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.ratio
        self.mask = keep.astype(x.dtype) / x.dtype.type(1 - self.ratio)
        return x * self.mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_dout(dout, self.x_shape)
        return dout * self.mask

    def config(self) -> dict:
        """The ratio and the state of the mask generator, so that a rebuilt layer draws the
        masks this one would draw next."""
        return {"ratio": self.ratio, "rng_state": self.rng.bit_generator.state}

    @classmethod
    def from_config(cls, config: dict, arrays: dict) -> "Dropout":
        config = dict(config)
        state = config.pop("rng_state", None)
        layer = cls(**config)
        if state is not None:
            layer.rng = generator_from_state(state)
        return layer

    def __repr__(self) -> str:
        return f"Dropout(ratio={self.ratio})"
