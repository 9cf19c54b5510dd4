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

    def _check_dout(self, dout: np.ndarray, forward_state, expected_shape: tuple[int, ...]) -> None:
        """Raise a clear error for ``backward`` before a training ``forward`` (``forward_state`` is
        None) or for a ``dout`` whose shape is not that of the forward pass's output."""
        if forward_state is None:
            raise RuntimeError(f"{self.name}: backward needs a forward pass with train=True first")
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

    def __repr__(self) -> str:
        return f"{self.name}()"
