"""A model made of layers applied in turn, ending in a loss layer."""

from __future__ import annotations

import json
import os
from typing import Optional, Sequence

import numpy as np

import cnn_ext
from cnn._checks import check_int, check_samples, describe
from cnn.layers.base import Layer
from cnn.layers.loss import SoftmaxWithLoss
from cnn.storage import atomic_write_npz, read_npz


class Sequential:
    """Layers applied in order, then a loss layer.

    Args:
        layers: the layers, first to last.
        loss: the loss layer (default :class:`SoftmaxWithLoss`).
        input_shape: the shape of one sample, for example (1, 28, 28); needed by :meth:`summary`.

    ``params`` and ``grads`` list every layer's arrays in order (the same array
    objects, so an optimizer updating ``params`` updates the layers).
    """

    def __init__(self, layers: Sequence[Layer], loss: Optional[Layer] = None,
                 input_shape: Optional[tuple[int, ...]] = None) -> None:
        layers = list(layers)
        for index, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{index}] must be a cnn.layers.Layer, got {describe(layer)}")
        if not layers:
            raise ValueError("layers must hold at least one layer, got an empty sequence")
        self.layers = layers
        self.loss_layer = SoftmaxWithLoss() if loss is None else loss
        self.input_shape = None if input_shape is None else tuple(input_shape)
        self.params = [param for layer in layers for param in layer.params]
        self.grads = [grad for layer in layers for grad in layer.grads]
        self.buffers = [buffer for layer in layers for buffer in layer.buffers]

    @property
    def dtype(self) -> Optional[np.dtype]:
        """The dtype of the weights (``None`` for a model without parameters)."""
        return self.params[0].dtype if self.params else None

    def predict(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        """Class scores (N, classes) for a batch x (N, ...); no loss, inference mode by default."""
        with cnn_ext.engine_scope():
            for layer in self.layers:
                x = layer.forward(x, train)
        return x

    def forward(self, x: np.ndarray, t: np.ndarray, train: bool = True) -> float:
        """The loss of batch x with labels t (N,) or one-hot (N, classes)."""
        return self.loss_layer.forward(self.predict(x, train), t)

    def backward(self, dout: float = 1.0, input_grad: bool = True) -> Optional[np.ndarray]:
        """Backpropagate from the loss; fills ``grads`` and returns dL/dx.

        With ``input_grad=False`` the gradient with respect to the input is not
        computed (training never needs it) and None is returned.
        """
        with cnn_ext.engine_scope():
            dout = self.loss_layer.backward(dout)
            for layer in reversed(self.layers[1:]):
                dout = layer.backward(dout)
            if not input_grad:
                self.layers[0].backward_params(dout)
                return None
            return self.layers[0].backward(dout)

    def predict_batches(self, x: np.ndarray, batch_size: int = 128) -> np.ndarray:
        """Class scores for many samples, computed ``batch_size`` at a time to bound memory."""
        batch_size = check_int("batch_size", batch_size, 1)
        check_samples("x", x, self.dtype)
        with cnn_ext.engine_scope():  # once for all batches
            return np.concatenate([self.predict(x[start:start + batch_size])
                                   for start in range(0, x.shape[0], batch_size)])

    def accuracy(self, x: np.ndarray, t: np.ndarray, batch_size: int = 128) -> float:
        """Fraction of samples whose highest score is the label, computed in batches."""
        return self.evaluate(x, t, batch_size)[1]

    def evaluate(self, x: np.ndarray, t: np.ndarray, batch_size: int = 128) -> tuple[float, float]:
        """``(loss, accuracy)`` over all samples, predicted ``batch_size`` at a time."""
        scores = self.predict_batches(x, batch_size)
        loss = self.loss_layer.forward(scores, t)
        return loss, float(np.mean(scores.argmax(axis=1) == self.loss_layer.labels))

    def num_params(self) -> int:
        return sum(param.size for param in self.params)

    def summary(self) -> str:
        """A table of layers, output shapes and parameter counts (like Keras); printed and returned."""
        if self.input_shape is None:
            raise ValueError("summary needs the model's input_shape; pass input_shape=(C, H, W) "
                             "to Sequential")
        x = np.zeros((1,) + self.input_shape, dtype=self.dtype or np.float32)
        rows = [("Layer", "Output shape", "Params")]
        for layer in self.layers:
            x = layer.forward(x, train=False)
            rows.append((repr(layer), str((None,) + x.shape[1:]), f"{layer.num_params():,}"))
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        lines = [f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}" for row in rows]
        rule = "-" * len(lines[0])
        text = "\n".join([lines[0], rule, *lines[1:], rule,
                          f"Total params: {self.num_params():,}"])
        print(text)
        return text

    def architecture(self) -> str:
        """A description of the layers and the shapes of their arrays, to match saved files."""
        return json.dumps([{"layer": repr(layer),
                            "params": [list(p.shape) for p in layer.params],
                            "buffers": [list(b.shape) for b in layer.buffers]}
                           for layer in self.layers])

    def state_dict(self) -> dict[str, np.ndarray]:
        """The architecture and every parameter and buffer, as a flat dict of arrays."""
        arrays = {"architecture": np.array(self.architecture())}
        arrays.update({f"param_{i}": param for i, param in enumerate(self.params)})
        arrays.update({f"buffer_{i}": buffer for i, buffer in enumerate(self.buffers)})
        return arrays

    def load_state_dict(self, arrays, source: str = "the state") -> None:
        """Copy saved parameters and buffers into this model's arrays, in place.

        Refuses (``ValueError``) arrays saved from another architecture.
        """
        if "architecture" not in arrays:
            raise ValueError(f"{source} is not a saved cnn model (no 'architecture' entry)")
        saved = str(arrays["architecture"])
        if saved != self.architecture():
            raise ValueError(f"{source} holds a different architecture:\n  saved: {saved}\n"
                             f"  model: {self.architecture()}")
        for prefix, targets in (("param", self.params), ("buffer", self.buffers)):
            for index, target in enumerate(targets):
                value = arrays[f"{prefix}_{index}"]
                if value.shape != target.shape or value.dtype != target.dtype:
                    raise ValueError(f"{source}: {prefix}_{index} has shape {value.shape} and dtype "
                                     f"{value.dtype}, the model needs {target.shape} {target.dtype}")
                target[...] = value

    def save(self, path: str | os.PathLike) -> None:
        """Write the weights to ``path`` (an ``.npz`` file), atomically."""
        atomic_write_npz(path, self.state_dict())

    def load(self, path: str | os.PathLike) -> None:
        """Read weights written by :meth:`save` into this model; refuses a mismatched file."""
        self.load_state_dict(read_npz(path), source=f"file {os.fspath(path)!r}")

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"{type(self).__name__}(\n  {inner},\n  loss={self.loss_layer!r})"
