"""The layer contract shared by every layer."""

from __future__ import annotations

import numpy as np


class Layer:
    """A layer with ``params`` and ``grads`` lists and ``forward``/``backward``.

    ``grads[i]`` has the shape of ``params[i]``; ``backward`` writes into it in
    place (``grads[i][...] = ...``), so an optimizer holding both lists sees
    every update. ``buffers`` hold state that is saved with the model but not
    trained (BatchNormalization's running statistics). ``param_names`` and
    ``buffer_names`` name the entries of ``params`` and ``buffers``: a model's
    saved state and gradient checks use these names.
    """

    param_names: tuple[str, ...] = ()
    buffer_names: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.buffers: list[np.ndarray] = []

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward_params(self, dout: np.ndarray) -> None:
        """Fill ``grads`` only, for a first layer whose input needs no gradient.

        Layers that can skip computing dx (Convolution, Affine) override this."""
        self.backward(dout)

    @property
    def name(self) -> str:
        return type(self).__name__

    def num_params(self) -> int:
        return sum(param.size for param in self.params)

    def __repr__(self) -> str:
        return f"{self.name}()"
