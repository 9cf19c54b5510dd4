"""A model made of layers applied in turn, and a loss."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

import numpy as np

import cnn_ext
from cnn._checks import check_int, check_samples, describe
from cnn.checkpoint import entries
from cnn.functions import softmax
from cnn.layers.base import Layer, arrays_under
from cnn.layers.registry import build_part, describe_part
from cnn.losses import Loss, SoftmaxWithLoss, class_indices
from cnn.metrics import accuracy
from cnn.models._inputs import as_batch
from cnn.models._architecture import (ARCHITECTURE_KEY, architecture_array, describe_saved,
                                     foreign_file_hint)
from cnn.storage import atomic_write_npz, read_npz

__all__ = ["Sequential", "STATE_FORMAT_VERSION"]

#: Version of the state_dict layout: 2 names every array (``layers.{i}.{name}``); 1 (cnn-ext
#: 0.1.0) numbered them (``param_0``, ``buffer_0``) beside a JSON of the layers' reprs.
STATE_FORMAT_VERSION = 2


class Sequential(Layer):
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

    def inner_shapes(self, sample_shape: tuple[int, ...]) -> list[tuple[str, Layer, tuple[int, ...]]]:
        """``(layers.{i}, layer, output shape)`` of each layer, for a sample of ``sample_shape``."""
        return [(f"layers.{index}", layer, shape) for index, (layer, shape) in
                enumerate(zip(self.layers, self.layer_shapes(sample_shape)))]

    def _as_batch(self, x: Any, name: str = "x", allow_single: bool = False) -> tuple[Any, bool]:
        """``x`` as a batch ``(N, *input_shape)`` (flat samples reshaped) and whether it was one
        sample without the batch axis; left as it is when the model has no input_shape."""
        if self.input_shape is None or not isinstance(x, np.ndarray):
            return x, False
        return as_batch(x, self.input_shape, name, allow_single)

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
        axis, whose scores (classes,) come back.
        """
        x, single = self._as_batch(x, "x", allow_single=True)
        with cnn_ext.engine_scope():
            scores = self._forward_layers(x, train)
        return scores[0] if single else scores

    def layer_outputs(self, x: np.ndarray) -> list[np.ndarray]:
        """What each layer gives for the batch ``x`` in inference mode: one array per layer, in
        order, each its own copy (a ``Relu(inplace=True)`` would otherwise overwrite the output
        of the layer before it). Flat samples are reshaped as by :meth:`predict`."""
        x, _ = self._as_batch(x, "x")
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
        x, _ = self._as_batch(x)
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
        x, _ = self._as_batch(x)
        with cnn_ext.engine_scope():
            scores = self._forward_layers(x, train=True)
            loss = (self.loss.forward_checked if checked else self.loss.forward)(scores, t)
            self._backward_layers(self.loss.backward(1.0), input_grad=False)
        return loss, scores

    def _forward_layers(self, x: np.ndarray, train: bool) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x, train=train)
        return x

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
        if not checked:
            check_samples("x", x, self.dtype)
        x, _ = self._as_batch(x)
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
        rows = [("Layer", "Output shape", "Params")]
        before = self.input_shape
        for layer, shape in zip(self.layers, self.layer_shapes()):
            rows.append((_one_line(layer), str((None,) + shape), f"{layer.num_params():,}"))
            rows += [(f"  {name} {_one_line(inner)}", str((None,) + inner_shape),
                      f"{inner.num_params():,}")
                     for name, inner, inner_shape in layer.inner_shapes(before)]
            before = shape
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        lines = [f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}" for row in rows]
        rule = "-" * len(lines[0])
        print_fn("\n".join([lines[0], rule, *lines[1:], rule, f"Total params: {self.num_params():,}"]))

    def named_arrays(self) -> dict[str, np.ndarray]:
        """Every parameter and buffer by name, ``layers.{i}.{name}``: the parameters, then the
        buffers."""
        return {**self.named_params(), **self.named_buffers()}

    def config(self) -> dict:
        """The layers' and the loss's classes and settings, and ``input_shape``: what
        :func:`cnn.load_model` rebuilds the model from, nested in a Residual or at the top."""
        return {"layers": [describe_part(f"layers[{index}]", layer)
                           for index, layer in enumerate(self.layers)],
                "loss": describe_part("the loss", self.loss),
                "input_shape": None if self.input_shape is None else list(self.input_shape)}

    @classmethod
    def from_config(cls, config: dict, arrays: dict) -> "Sequential":
        """The model :meth:`config` describes, each layer around its saved arrays."""
        if set(config) != {"layers", "loss", "input_shape"} or not isinstance(config["layers"], list):
            raise ValueError(f"a Sequential's config holds a list 'layers', 'loss' and "
                             f"'input_shape', got {sorted(config)}")
        layers = [build_part(f"layers[{index}]", entry, arrays_under(arrays, f"layers.{index}"))
                  for index, entry in enumerate(config["layers"])]
        return cls.from_layers(layers, build_part("the loss", config["loss"], None, Loss),
                               config["input_shape"])

    def state_dict(self) -> dict[str, np.ndarray]:
        """The format version and every parameter and buffer by name (``layers.0.W``...).

        Only arrays are saved: settings that hold no weights (a dropout ratio, a
        batch-norm momentum) are the code's, so changing them never blocks a load.
        """
        return {"format_version": np.array(STATE_FORMAT_VERSION), **self.named_arrays()}

    def load_state_dict(self, arrays: Mapping[str, np.ndarray], source: str = "the state") -> None:
        """Copy saved parameters and buffers into this model's arrays, in place.

        The names, shapes and dtypes must match the model's (:meth:`check_state`); the first
        that does not is named in a ``ValueError`` and nothing is copied. State saved by
        cnn-ext 0.1.0 (``param_0``, ``buffer_0``...) is read by position.
        """
        sources = self.check_state(arrays, source)
        for key, target in self.named_arrays().items():
            target[...] = arrays[sources[key]]

    def check_state(self, specs: Mapping[str, Any], source: str = "the state") -> dict[str, str]:
        """Refuse a saved state that does not fit this model, before anything is copied.

        ``specs`` maps each saved name to an array, or to what a file's header says of it
        (an :class:`~cnn.storage.ArraySpec`, so that a file is checked before its data is
        read). Returns, for each of the model's names (:meth:`named_arrays`), the saved name
        that holds it. Raises ``ValueError`` naming the first name, shape or dtype that differs.
        """
        if "format_version" in specs:
            version = _scalar(specs["format_version"])
            if version != STATE_FORMAT_VERSION:
                raise ValueError(f"{source} has state format {version}; this version of cnn-ext "
                                 f"reads format {STATE_FORMAT_VERSION} and the numbered format of "
                                 f"0.1.0")
            sources = {key: key for key in specs if key not in ("format_version", ARCHITECTURE_KEY)}
        else:
            sources = self._numbered_names(specs, source)
        targets = self.named_arrays()
        for key, target in targets.items():
            if key not in sources:
                raise ValueError(f"{source} does not fit this model: it has no {key!r} (the model's "
                                 f"{target.shape} {target.dtype}); saved keys start with "
                                 f"{_first_keys(specs)}")
            saved = specs[sources[key]]
            if tuple(saved.shape) != target.shape or saved.dtype != target.dtype:
                raise ValueError(f"{source} does not fit this model: {sources[key]!r} has shape "
                                 f"{tuple(saved.shape)} and dtype {saved.dtype}, the model needs "
                                 f"{target.shape} {target.dtype}")
        extra = [key for key in sources if key not in targets]
        if extra:
            raise ValueError(f"{source} does not fit this model: it has {extra[0]!r}, which the "
                             f"model lacks ({len(extra)} such entries)")
        return {key: sources[key] for key in targets}

    def _numbered_names(self, specs: Mapping[str, Any], source: str) -> dict[str, str]:
        """The model name of each array of a cnn-ext 0.1.0 file (``param_i``, ``buffer_i``,
        numbered in the order of the layers, beside an ``architecture`` JSON)."""
        if "param_0" not in specs and "architecture" not in specs:
            raise ValueError(f"{source} is not a saved cnn model (no 'format_version' entry)")
        sources = {}
        for prefix, names in (("param", list(self.named_params())),
                              ("buffer", list(self.named_buffers()))):
            saved = sum(1 for key in specs if key.startswith(f"{prefix}_"))
            if saved != len(names):
                raise ValueError(f"{source} (a cnn-ext 0.1.0 file) holds {saved} {prefix}s, this "
                                 f"model has {len(names)}; it was saved from another architecture")
            sources.update({name: f"{prefix}_{index}" for index, name in enumerate(names)})
        extra = [key for key in specs if key != "architecture" and key not in sources.values()]
        if extra:
            raise ValueError(f"{source} (a cnn-ext 0.1.0 file) holds {extra[0]!r}, which such "
                             f"files never do")
        return sources

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to ``path`` (an ``.npz`` file), atomically: its :meth:`state_dict`
        and, as JSON, its architecture (each layer's class and ``config()``, the loss,
        ``input_shape``), from which :func:`cnn.load_model` rebuilds it without code.

        Raises ``TypeError`` naming a layer whose ``config()`` is not JSON."""
        atomic_write_npz(path, {**self.state_dict(), ARCHITECTURE_KEY: architecture_array(self)})

    def load(self, path: str | os.PathLike) -> None:
        """Read weights written by :meth:`save` into this model; refuses a mismatched file.

        The file's array headers are checked against the model (:meth:`check_state`) before
        any data is read, so a damaged or hostile file costs no more memory than the model.
        The architecture saved beside the weights is not needed here (this model is the
        architecture); files of older versions, which have none, load too. Given an ONNX file
        or a Trainer checkpoint, the ``ValueError`` names the call that reads it.
        """
        foreign_file_hint(path, "model.load")
        source = f"file {os.fspath(path)!r}"

        def check(specs):
            if describe_saved(specs) == "checkpoint":
                raise ValueError(f"{source} is a Trainer checkpoint; read its weights with "
                                 f"model.load_checkpoint({os.fspath(path)!r})")
            self.check_state(specs, source)

        self.load_state_dict(read_npz(path, check=check), source=source)

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Read the weights of a :class:`~cnn.trainer.Trainer` checkpoint (``checkpoint.npz``,
        the model as it was after the last finished epoch or step) into this model.

        Only the model's arrays are copied; the optimizer's state and the run's position stay
        in the file for ``fit(..., resume=True)``. Checked like :meth:`load`.
        """
        foreign_file_hint(path, "model.load_checkpoint")
        source = f"checkpoint {os.fspath(path)!r}"

        def check(specs):
            if describe_saved(specs) != "checkpoint":
                raise ValueError(f"{source} is not a Trainer checkpoint (no 'meta' and 'model.' "
                                 f"entries); a file written by model.save is read with "
                                 f"model.load or cnn.load_model")
            self.check_state(entries(specs, "model."), source)

        arrays = read_npz(path, check=check)
        self.load_state_dict(entries(arrays, "model."), source=source)

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"{type(self).__name__}(\n  {inner},\n  loss={self.loss!r})"


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
            raise TypeError(f"layers[{first_index}] ({_one_line(first)}) has {first_dtype} weights "
                            f"and layers[{index}] ({_one_line(layer)}) {dtype}; build every layer "
                            f"with one dtype (dtype=np.{first_dtype} in their create())")


def _one_line(layer: Layer) -> str:
    """The layer's repr, or its class and layer count where the repr spans lines (a model)."""
    text = repr(layer)
    return text if "\n" not in text else f"{layer.name}({len(layer.sublayers())} layers)"


def _scalar(saved: Any) -> Any:
    """The number in a saved 0-d array (or in the ``value`` of a header), None if there is none."""
    value = getattr(saved, "value", saved)
    if isinstance(value, np.ndarray):
        value = value.item() if value.shape == () and value.dtype.kind in "biuf" else None
    return value


def _first_keys(arrays: Mapping, count: int = 3) -> str:
    keys = list(arrays)
    return ", ".join(repr(key) for key in keys[:count]) + (", ..." if len(keys) > count else "")
