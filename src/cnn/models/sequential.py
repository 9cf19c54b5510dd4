"""A model made of layers applied in turn, and a loss."""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

import cnn_ext
from cnn._checks import check_int, check_samples, describe
from cnn.functions import softmax
from cnn.layers.base import Layer
from cnn.layers.fusion import forward_layers
from cnn.losses import Loss, SoftmaxWithLoss, class_indices
from cnn.memory import prediction_chunk
from cnn.metrics import accuracy
from cnn.models._inputs import as_array, as_batch, flat_samples_error, square_images
from cnn.models.model_files import STATE_FORMAT_VERSION, ModelFiles
from cnn.models.summary import one_line, summary_table

__all__ = ["Sequential", "STATE_FORMAT_VERSION"]


class Sequential(ModelFiles, Layer):
    """Layers applied in order, then a loss; a layer itself, so that a model can be a block of a
    :class:`~cnn.layers.Residual` or of another model.

    Args:
        layers: the layers, first to last (instances of :class:`~cnn.layers.Layer`).
        loss: a :class:`~cnn.losses.Loss` (default :class:`~cnn.losses.SoftmaxWithLoss`).
        input_shape: the shape of one sample, for example (1, 28, 28); needed by :meth:`summary`.

    ``params`` and ``grads`` list every layer's arrays in order, read from the layers
    each time (the same array objects, so an optimizer updating ``params`` updates the
    layers, and a layer that rebinds an array is followed). :meth:`named_params`,
    :meth:`named_grads` and :meth:`state_dict` name them ``layers.{i}.{name}`` with the
    names the layers give (see :class:`~cnn.layers.Layer`).

    As a model, ``forward(x, t)`` gives the loss and ``backward()`` starts from it; as a
    layer (inside a Residual), ``forward(x, train=...)`` gives the last layer's output and
    ``backward(dout)`` takes its gradient, the loss left out.

    Example:
        >>> from cnn.layers import Affine, Relu
        >>> model = Sequential([Affine.create(4, 8, rng=0), Relu(), Affine.create(8, 3, rng=1)])
        >>> model.predict(np.ones((5, 4), np.float32)).shape
        (5, 3)
        >>> sorted(model.state_dict())[:3]
        ['format_version', 'layers.0.W', 'layers.0.b']
    """

    # Its layers check the training mode themselves: backward names the one that was not ready.
    _checks_training_mode = False

    def __init__(self, layers: Sequence[Layer], loss: Optional[Loss] = None,
                 input_shape: Optional[tuple[int, ...]] = None) -> None:
        super().__init__()
        layers = _checked_layers(layers, loss)
        self.layers = layers
        self.loss = SoftmaxWithLoss() if loss is None else loss
        self.input_shape = None if input_shape is None else tuple(input_shape)
        if self.input_shape is not None:
            self.layer_shapes()  # the layers fit input_shape, or the first that does not is named

    @classmethod
    def from_layers(cls, layers: Sequence[Layer], loss: Optional[Loss] = None,
                    input_shape: Optional[tuple[int, ...]] = None) -> "Sequential":
        """A model of this class around layers built already (what :func:`cnn.load_model`
        rebuilds a LeNet or a DeepConvNet with): the class's own constructor, which builds new
        layers from sizes, is not called."""
        model = cls.__new__(cls)
        Sequential.__init__(model, layers, loss, input_shape)
        return model

    def named_children(self) -> Iterator[tuple[str, Layer]]:
        """Each layer as ``layers.{i}``."""
        for index, layer in enumerate(self.layers):
            yield f"layers.{index}", layer

    def layer_shapes(self, sample_shape: Optional[tuple[int, ...]] = None) -> list[tuple[int, ...]]:
        """The shape of one sample after each layer, for a sample of ``sample_shape`` (default:
        the model's ``input_shape``), from the layers' :meth:`~cnn.layers.Layer.output_shape`.
        Refuses, naming it, the first layer that cannot take what the layers before it give."""
        if sample_shape is None:
            if self.input_shape is None:
                raise ValueError("the model has no input_shape; pass input_shape=(C, H, W) to "
                                 "Sequential, or give the sample's shape")
            sample_shape = self.input_shape
        shape, shapes = tuple(sample_shape), []
        for index, layer in enumerate(self.layers):
            try:
                shape = tuple(layer.output_shape(shape))
            except ValueError as error:
                raise ValueError(f"layers[{index}] ({layer!r}) does not fit input_shape "
                                 f"{tuple(sample_shape)}: the layers before it give samples of "
                                 f"shape {shape}, and it says: {error}") from None
            shapes.append(shape)
        return shapes

    def output_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of one sample after the last layer."""
        return self.layer_shapes(sample_shape)[-1]

    def num_classes(self, sample_shape: Optional[tuple[int, ...]] = None) -> int:
        """The width of the scores of one sample of ``sample_shape`` (default: ``input_shape``),
        from the layers' shapes; ``ValueError`` for a model whose output is not a vector."""
        shape = self.layer_shapes(sample_shape)[-1]
        if len(shape) != 1:
            raise ValueError(f"the model gives samples of shape {shape}, not a vector of scores")
        return shape[0]

    def inner_shapes(self, sample_shape: tuple[int, ...]) -> list[tuple[str, Layer, tuple[int, ...]]]:
        """``(layers.{i}, layer, output shape)`` of each layer, for a sample of ``sample_shape``."""
        return [(f"layers.{index}", layer, shape) for index, (layer, shape) in
                enumerate(zip(self.layers, self.layer_shapes(sample_shape)))]

    def as_batch(self, x: Any, name: str = "x", allow_single: bool = False) -> tuple[Any, bool]:
        """``x`` as a batch ``(N, *input_shape)`` (flat samples reshaped) and whether it was one
        sample without the batch axis; left as it is when the model has no input_shape."""
        if self.input_shape is None or not isinstance(x, np.ndarray):
            return x, False
        return as_batch(x, self.input_shape, name, allow_single)

    def check_batch_shape(self, x: np.ndarray, name: str = "x") -> None:
        """Refuse, with the fix named, flat samples ``(N, D)`` given to a model without
        ``input_shape`` whose first layer takes square images of those ``D`` values (checked
        once per data set, not per step); other shapes are left to the first layer."""
        if self.input_shape is not None or x.ndim != 2 or not self.layers:
            return
        try:
            self.layers[0].output_shape(x.shape[1:])
        except ValueError as refusal:
            for image in square_images(x.shape[1]):
                try:
                    self.layers[0].output_shape(image)
                except ValueError:
                    continue
                raise ValueError(flat_samples_error(x.shape, image, name, refusal)) from None

    def _samples_to_predict(self, x: Any, allow_single: bool = False) -> tuple[np.ndarray, bool]:
        """The batch :meth:`predict` and its kin run, and whether ``x`` was one sample: an
        array-like becomes an array of the model's dtype, and the samples are checked (finite
        floats of the model's dtype, at least one)."""
        x = as_array(x, self.dtype)
        x, single = self.as_batch(x, "x", allow_single)
        self.check_batch_shape(x)
        check_samples("x", x, self.dtype)
        return x, single

    def leaf_layers(self) -> list[Layer]:
        """Every layer, those inside a :class:`~cnn.layers.Residual` included, in order."""
        def leaves(layer):
            inner = layer.sublayers()
            return [leaf for part in inner for leaf in leaves(part)] if inner else [layer]
        return [leaf for layer in self.layers for leaf in leaves(layer)]

    @property
    def dtype(self) -> Optional[np.dtype]:
        """The dtype of the weights (``None`` for a model without parameters)."""
        params = self.params
        return params[0].dtype if params else None

    def predict(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        """Class scores (N, classes) for a batch x (N, ...); no loss, inference mode by default.

        With ``input_shape`` known (every ready model sets it), ``x`` may also hold flat samples
        (N, C*H*W), as ``load_mnist()`` gives them, or be one sample (C, H, W) without the batch
        axis, whose scores (classes,) come back. Any array-like is taken in the model's dtype;
        NaN or infinite values are refused. A batch too large for the memory this process may
        take (:mod:`cnn.memory`) is predicted a part at a time.
        """
        x, single = self._samples_to_predict(x, allow_single=True)
        chunk = x.shape[0] if train else prediction_chunk(self, x)
        with cnn_ext.engine_scope():
            scores = self._forward_layers(x, train) if chunk == x.shape[0] else \
                np.concatenate([self._forward_layers(x[start:start + chunk], train)
                                for start in range(0, x.shape[0], chunk)])
        return scores[0] if single else scores

    def layer_outputs(self, x: np.ndarray) -> list[np.ndarray]:
        """What each layer gives for the batch ``x`` in inference mode: one array per layer, in
        order, each its own copy (a ``Relu(inplace=True)`` would otherwise overwrite the output
        of the layer before it). Flat samples are reshaped as by :meth:`predict`."""
        x, _ = self._samples_to_predict(x)
        outputs = []
        with cnn_ext.engine_scope():
            for layer in self.layers:
                x = layer.forward(x, train=False)
                outputs.append(x.copy())
        return outputs

    def predict_classes(self, x: np.ndarray) -> np.ndarray:
        """The class with the highest score: (N,) integers for a batch, one for one sample."""
        return self.predict(x).argmax(axis=-1)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities, the softmax of the scores: (N, classes), or (classes,) for one
        sample. Each row sums to 1."""
        return softmax(self.predict(x))

    def forward(self, x: np.ndarray, t: Any = None, train: bool = True) -> Any:
        """The loss of batch x with labels t (N,) or one-hot (N, classes).

        Without ``t``, the last layer's output, as any layer's ``forward`` gives it: what a
        Residual holding this model calls (``forward(x, train=...)``)."""
        if isinstance(t, (bool, np.bool_)):
            raise TypeError(f"t must be the labels, got {t!r}; give the mode by keyword: "
                            f"forward(x, train={t!r})")
        x, _ = self.as_batch(x)
        with cnn_ext.engine_scope():
            scores = self._forward_layers(x, train)
        return scores if t is None else self.loss.forward(scores, t)

    def backward(self, dout: Any = 1.0, input_grad: bool = True) -> Optional[np.ndarray]:
        """Backpropagate from the loss; fills ``grads`` and returns dL/dx.

        With ``input_grad=False`` the gradient with respect to the input is not
        computed (training never needs it) and None is returned. Given an array ``dout``, the
        gradient of the last layer's output (as any layer's ``backward`` takes it), the loss is
        left out.
        """
        with cnn_ext.engine_scope():
            if not isinstance(dout, np.ndarray):
                dout = self.loss.backward(dout)
            return self._backward_layers(dout, input_grad)

    def train_step(self, x: np.ndarray, t: Any, *, checked: bool = False) -> tuple[float, np.ndarray]:
        """One training step's forward and backward pass: ``(loss, scores)``, with ``grads`` filled.

        The forward pass runs in training mode and the backward pass skips the first
        layer's input gradient; the caller updates the weights (``optimizer.update``).
        ``checked=True`` says that ``t`` holds class indices checked already (the Trainer
        checks a data set's labels once per ``fit``), so the loss does not check them again.
        """
        x, _ = self.as_batch(x)
        with cnn_ext.engine_scope():
            scores = self._forward_layers(x, train=True)
            loss = (self.loss.forward_checked if checked else self.loss.forward)(scores, t)
            self._backward_layers(self.loss.backward(1.0), input_grad=False)
        return loss, scores

    def _forward_layers(self, x: np.ndarray, train: bool) -> np.ndarray:
        return forward_layers(self.layers, x, train)

    def _backward_layers(self, dout: np.ndarray, input_grad: bool) -> Optional[np.ndarray]:
        """Backpropagate ``dout``, the gradient of the last layer's output, through the layers."""
        for layer in reversed(self.layers[1:]):
            dout = layer.backward(dout)
        if not input_grad:
            self.layers[0].backward_params(dout)
            return None
        return self.layers[0].backward(dout)

    def predict_batches(self, x: np.ndarray, batch_size: int = 128, *,
                        checked: bool = False) -> np.ndarray:
        """Class scores for many samples, computed ``batch_size`` at a time to bound memory.

        ``x`` is checked once (finite floats of the model's dtype) unless ``checked=True``
        says that the caller did so already."""
        batch_size = check_int("batch_size", batch_size, 1)
        x, _ = self.as_batch(x) if checked else self._samples_to_predict(x)
        batch_size = min(batch_size, prediction_chunk(self, x[:batch_size]))
        with cnn_ext.engine_scope():  # once for all batches
            return np.concatenate([self._forward_layers(x[start:start + batch_size], train=False)
                                   for start in range(0, x.shape[0], batch_size)])

    def accuracy(self, x: np.ndarray, t: Any, batch_size: int = 128) -> float:
        """Fraction of samples whose highest score is the label, computed in batches."""
        return self.evaluate(x, t, batch_size)[1]

    def evaluate(self, x: np.ndarray, t: Any, batch_size: int = 128, *,
                 checked: bool = False) -> tuple[float, float]:
        """``(loss, accuracy)`` over all samples, predicted ``batch_size`` at a time.

        ``checked=True`` says that ``x`` and ``t`` (class indices) were checked already."""
        scores = self.predict_batches(x, batch_size, checked=checked)
        labels = t if checked else class_indices(t, scores.shape[0], scores.shape[1])
        return self.loss.forward_checked(scores, labels), accuracy(scores, labels)

    def summary(self, print_fn: Callable[[str], None] = print) -> None:
        """Print a table of layers, output shapes and parameter counts (like Keras).

        The shapes come from the layers' ``output_shape``; the layers a layer holds (a
        Residual's) are listed under it, indented. ``print_fn`` receives the whole table
        (``print`` by default).
        """
        if self.input_shape is None:
            raise ValueError("summary needs the model's input_shape; pass input_shape=(C, H, W) "
                             "to Sequential")
        print_fn(summary_table(self))

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"{type(self).__name__}(\n  {inner},\n  loss={self.loss!r})"


def _checked_layers(layers: Sequence[Layer], loss: Optional[Loss]) -> list[Layer]:
    """``layers`` as a list, refused (naming the first at fault) unless each is a layer whose
    arrays can be named, saved and trained, all of one dtype, and ``loss`` a loss or None."""
    layers = list(layers)
    for index, layer in enumerate(layers):
        if isinstance(layer, Loss):
            raise TypeError(f"layers[{index}] is a loss ({layer!r}); a model takes its loss "
                            f"apart: Sequential(layers, loss={layer!r})")
        if not isinstance(layer, Layer):
            raise TypeError(f"layers[{index}] must be a cnn.layers.Layer, got {describe(layer)}")
    if not layers:
        raise ValueError("layers must hold at least one layer, got an empty sequence")
    if loss is not None and not isinstance(loss, Loss):
        hint = " (it is a layer: put it among the layers)" if isinstance(loss, Layer) else ""
        raise TypeError(f"loss must be a cnn.losses.Loss such as SoftmaxWithLoss(), got "
                        f"{describe(loss)}{hint}")
    for index, layer in enumerate(layers):
        _check_layer_arrays(index, layer)
    _check_one_dtype(layers)
    return layers


def _check_layer_arrays(index: int, layer: Layer) -> None:
    """Refuse a layer whose arrays cannot all be named, saved and trained, naming it and the fix."""
    try:
        params, grads = layer.named_params(), layer.named_grads()
        layer.named_buffers()
    except TypeError as error:
        raise TypeError(f"layers[{index}]: {error}") from None
    for name, param in params.items():
        grad = grads[name]
        if grad.shape != param.shape or grad.dtype != param.dtype:
            raise TypeError(f"layers[{index}] ({layer.name}): the gradient of {name!r} must have its "
                            f"shape {param.shape} and dtype {param.dtype}, got {grad.shape} "
                            f"{grad.dtype}")


def _check_one_dtype(layers: Sequence[Layer]) -> None:
    """Refuse layers whose weights differ in dtype, naming the first two that do."""
    typed = [(index, layer, layer.params[0].dtype) for index, layer in enumerate(layers)
             if layer.params]
    for index, layer, dtype in typed[1:]:
        first_index, first, first_dtype = typed[0]
        if dtype != first_dtype:
            raise TypeError(f"layers[{first_index}] ({one_line(first)}) has {first_dtype} weights "
                            f"and layers[{index}] ({one_line(layer)}) {dtype}; build every layer "
                            f"with one dtype (dtype=np.{first_dtype} in their create())")
