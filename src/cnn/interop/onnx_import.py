"""An ONNX model read back as a Sequential: what to_onnx writes, and PyTorch's export of such networks.

A file is untrusted input: everything read from it is checked before it is used. The model
must be self-contained (no external tensor data, so nothing outside the file is ever opened),
every tensor and every size (kernels, strides, pads, the input's shape) is bounded, and any
refusal is a ``ValueError`` that starts with ``from_onnx:`` and names the node or tensor.
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Optional

import numpy as np

from cnn.interop.layout import (DEFAULT_OPSET, ELEMENTWISE_OPS, GLOBAL_POOLING_OPS,
                                 OVER_CHANNELS_OPS, layer_of, rank_after)
from cnn_ext.geometry import reach, side_pads
from cnn.interop.requirements import require
from cnn.layers import (Affine, AvgPooling, BatchNormalization, Convolution, Flatten, Layer,
                        LeakyRelu, Pooling, PRelu, Residual)
from cnn.models.sequential import Sequential

__all__ = ["from_onnx", "MAX_WINDOW", "MAX_TENSOR_ELEMENTS", "MAX_IMPORT_SAMPLE_ELEMENTS", "MAX_CHANNELS",
           "MAX_GROWTH"]

#: The opset assumed for a model that names none (ONNX's own default domain).
ELEMENTWISE = layer_of(ELEMENTWISE_OPS)
OVER_CHANNELS = layer_of(OVER_CHANNELS_OPS)
GLOBAL_POOLINGS = layer_of(GLOBAL_POOLING_OPS)
PASS_THROUGH = {"Dropout", "Identity"}
#: The largest kernel size, stride or padding read from a file.
MAX_WINDOW = 255
#: The most elements of one tensor (weights, constants) read from a file: 256 MiB of float32.
MAX_TENSOR_ELEMENTS = 1 << 26
#: The most elements of one sample of an imported graph's input, or of what any of its layers
#: makes of it (32 MiB of float32): an ONNX file declares no architecture to check first.
MAX_IMPORT_SAMPLE_ELEMENTS = 1 << 23
#: The most channels a convolution makes, and features an affine layer makes.
MAX_CHANNELS = 1 << 16
#: The most pixels the padding of all the layers together may add to an image along each axis.
MAX_GROWTH = 256
# Largest file read; a protocol buffer cannot be larger anyway.
MAX_FILE_BYTES = 2 << 30


def refusal(what: str, reason: str) -> ValueError:
    return ValueError(f"from_onnx: {what}: {reason}")


class _Node:
    """One ONNX node with its attributes as Python values, and a name for messages."""

    def __init__(self, node, index: int, helper) -> None:
        self.op = node.op_type
        self.inputs = list(node.input)
        self.outputs = list(node.output)
        self.label = f"node {index} ({node.op_type}{' ' + repr(node.name) if node.name else ''})"
        if not self.outputs or not self.outputs[0]:
            raise refusal(self.label, "it has no output")
        self.attributes = {}
        for attribute in node.attribute:
            try:
                self.attributes[attribute.name] = helper.get_attribute_value(attribute)
            except (ValueError, TypeError) as error:
                raise refusal(self.label, f"attribute {attribute.name!r} cannot be read "
                                          f"({error})") from None

    def refuse(self, attribute: str, value: Any, reason: str) -> ValueError:
        return refusal(self.label, f"attribute {attribute}={_short(value)} cannot be mapped: {reason}")

    def get(self, name: str, default: Any) -> Any:
        value = self.attributes.get(name, default)
        return value.decode(errors="replace") if isinstance(value, bytes) else value

    def integer(self, name: str, default: int) -> int:
        value = self.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.refuse(name, value, "an integer is expected")
        return value

    def number(self, name: str, default: float) -> float:
        value = self.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.refuse(name, value, "a finite number is expected")
        return float(value)

    def sizes(self, name: str, default: Optional[list], count: int, low: int) -> list[int]:
        """``count`` integers from ``low`` to :data:`MAX_WINDOW` (kernel sizes, strides, pads)."""
        values = self.get(name, default)
        if values is None:
            raise refuse_missing(self, name)
        values = list(values) if isinstance(values, (list, tuple)) else values
        if not isinstance(values, list) or len(values) != count or not all(
                isinstance(value, int) and low <= value <= MAX_WINDOW for value in values):
            raise self.refuse(name, values, f"{count} integers from {low} to {MAX_WINDOW} are expected")
        return values


def refuse_missing(node: _Node, name: str) -> ValueError:
    return refusal(node.label, f"the attribute {name} is required")


def from_onnx(path: str | os.PathLike) -> Sequential:
    """Read an ONNX model of a plain chain of layers as a :class:`~cnn.models.Sequential`.

    Reads the files :func:`~cnn.interop.to_onnx` writes and the common ONNX that other tools
    write for such networks (PyTorch's ``torch.onnx.export`` of a LeNet): Conv (with groups,
    dilations, pads per side, ``auto_pad`` SAME at stride 1), Relu, LeakyRelu, PRelu, MaxPool,
    AveragePool, GlobalAveragePool and GlobalMaxPool (then Flatten), Flatten or Reshape to
    (N, -1), Gemm or MatMul followed by Add (a Transpose of a constant weight folded into it),
    BatchNormalization, Sigmoid, Tanh, Softmax and
    LogSoftmax over axis 1, Dropout and Identity. The weights become float32 layers, the loss
    :class:`~cnn.losses.SoftmaxWithLoss`, and ``input_shape`` the graph input's fixed sizes. A
    graph that ends in Softmax gives a model whose ``predict`` returns probabilities.

    The file must hold all its tensors (external data files are refused), and sizes are
    bounded: kernels, strides and pads up to :data:`MAX_WINDOW` (a pad at most the kernel),
    tensors up to :data:`MAX_TENSOR_ELEMENTS` elements, channels and features up to
    :data:`MAX_CHANNELS`, the padding of all layers together up to :data:`MAX_GROWTH` pixels, and
    one sample of the input, or of any layer's output for a fixed input shape, up to
    :data:`MAX_IMPORT_SAMPLE_ELEMENTS`.

    Raises:
        ValueError: starting with ``from_onnx:`` and naming the node and the attribute (or
            operator, or tensor) that cannot be mapped or is out of bounds: ceil_mode, a pooling
            padded unevenly, SAME padding with a stride, a softmax over another axis, a graph
            that is not a chain, an operator of another kind, external data, a damaged file.
        FileNotFoundError: no file at ``path``.
        ImportError: without ``onnx`` (``pip install "cnn-ext[onnx]"``).
    """
    onnx = require("onnx")
    from onnx import helper, numpy_helper

    model = _load(onnx, path)
    graph = model.graph
    opset = next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")),
                 DEFAULT_OPSET)
    if len(graph.sparse_initializer):
        raise refusal("the graph", "sparse initializers are not read")
    constants = {}
    for tensor in graph.initializer:
        constants[tensor.name] = _tensor(onnx, numpy_helper, tensor, f"initializer {tensor.name!r}")
    inputs = [value for value in graph.input if value.name not in constants]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise refusal("the graph", f"it must have one data input and one output, got "
                                   f"{len(inputs)} inputs and {len(graph.output)} outputs")
    nodes = []
    for index, node in enumerate(graph.node):
        wrapped = _Node(node, index, helper)
        if wrapped.op == "Constant":
            constants[wrapped.outputs[0]] = _constant(onnx, numpy_helper, wrapped)
        elif wrapped.op == "Transpose" and wrapped.inputs[:1] and wrapped.inputs[0] in constants:
            constants[wrapped.outputs[0]] = _transposed(wrapped, constants[wrapped.inputs[0]])
        else:
            nodes.append(wrapped)

    rank = _input_rank(inputs[0])
    input_shape = _input_shape(inputs[0])
    reader = _ChainReader(nodes, constants, opset)
    layers, current, _, _ = reader.read(inputs[0].name, rank, input_shape)
    if current != graph.output[0].name:
        raise refusal("the graph", f"the chain ends at {current!r}, not at the graph output "
                                   f"{graph.output[0].name!r}")
    if not layers:
        raise refusal("the graph", "it holds no layer")
    _check_growth(layers, input_shape)
    return Sequential(layers, input_shape=input_shape)


class _ChainReader:
    """Reads the graph as a chain of layers from a value on, following the data: each node
    must take the chain's current value (and constants) alone, except where the value goes to
    two branches that an Add joins again, which become a :class:`~cnn.layers.Residual` (the
    branch of more layers its body, the other its shortcut, or the identity when the Add takes
    the value itself)."""

    def __init__(self, nodes: list, constants: dict, opset: int) -> None:
        self.nodes, self.constants, self.opset = nodes, constants, opset
        self.consumed: set[int] = set()

    def _data(self, node) -> list[str]:
        return [name for name in node.inputs if name and name not in self.constants]

    def _users(self, value: str) -> list[int]:
        return [index for index, node in enumerate(self.nodes)
                if index not in self.consumed and value in self._data(node)]

    def _is_join(self, node) -> bool:
        return node.op == "Add" and len(self._data(node)) == 2

    def read(self, current: str, rank, shape, until_join: bool = False,
             first: Optional[int] = None):
        """``(layers, value, rank, shape)``: the chain from ``current`` (through the node
        ``first``, where the value branches) to the graph's end, or, with ``until_join``, to the
        Add that joins it with another branch (left unread)."""
        layers: list[Layer] = []
        while True:
            users, first = (self._users(current) if first is None else [first]), None
            if not users:
                return layers, current, rank, shape
            if len(users) == 1 and self._is_join(self.nodes[users[0]]) and until_join:
                return layers, current, rank, shape
            if len(users) == 2:
                layer, current = self._residual(current, users, rank, shape)
            elif len(users) > 2:
                raise refusal(self.nodes[users[0]].label, f"the value {current!r} goes to "
                                                          f"{len(users)} nodes; only two branches "
                                                          f"joined by an Add are read")
            else:
                node = self.nodes[users[0]]
                if self._data(node) != [current]:
                    raise refusal(node.label, f"it does not continue a chain of layers (its data "
                                              f"inputs are {_short(self._data(node))}, the chain "
                                              f"is at {current!r})")
                following = [self.nodes[index] for index in range(users[0] + 1, len(self.nodes))
                             if index not in self.consumed]
                layer, count = _layer(node, following, self.constants, rank, self.opset, shape)
                taken = [users[0]] + [index for index in range(users[0] + 1, len(self.nodes))
                                      if index not in self.consumed][:count - 1]
                self.consumed.update(taken)
                current = self.nodes[taken[-1]].outputs[0]
            if layer is not None:
                layers.append(layer)
                rank = None if rank is None else rank_after(layer, rank)
                if shape is not None:
                    shape = _output_shape(layer, shape, f"layers[{len(layers) - 1}] ({layer!r})")

    def _residual(self, current: str, users: list[int], rank, shape) -> tuple[Layer, str]:
        """Two branches from ``current`` and the Add that joins them, as one Residual."""
        joins = [index for index in users if self._is_join(self.nodes[index])]
        branches = []
        for index in users:
            if index in joins:
                branches.append(([], current))
            else:
                layers, end, _, _ = self.read(current, rank, shape, until_join=True, first=index)
                branches.append((layers, end))
        ends = {end for _, end in branches}
        join = [index for index in self._users(next(iter(ends)))
                if self._is_join(self.nodes[index]) and set(self._data(self.nodes[index])) == ends]
        if len(ends) != 2 or not join:
            raise refusal(self.nodes[users[0]].label, f"the branches from {current!r} do not meet "
                                                      f"in one Add of the two")
        add = self.nodes[join[0]]
        if len(add.inputs) != 2:
            raise refusal(add.label, "an Add of the two branches takes nothing else")
        self.consumed.add(join[0])
        branches.sort(key=lambda branch: len(branch[0]), reverse=True)
        (body, _), (shortcut, _) = branches
        if not body:
            raise refusal(add.label, "an Add of a value and itself has no cnn layer")
        return _build(add, Residual, body, shortcut or None), add.outputs[0]


def _load(onnx, path: str | os.PathLike):
    """The model in ``path``, with no external data loaded; a damaged file is refused."""
    from google.protobuf.message import DecodeError

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"from_onnx: no file at {path!r}")
    if os.path.getsize(path) > MAX_FILE_BYTES:
        raise refusal(repr(path), f"the file holds more than {MAX_FILE_BYTES} bytes")
    try:
        return onnx.load(path, load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, UnicodeDecodeError) as error:
        raise refusal(repr(path), f"not a readable ONNX model ({str(error)[:120]})") from None


# The tensor element types read, as NumPy would hold them.
NUMERIC_TYPES = {"FLOAT", "DOUBLE", "FLOAT16", "BFLOAT16", "INT8", "INT16", "INT32", "INT64",
                 "UINT8", "UINT16", "UINT32", "UINT64", "BOOL"}


def _tensor(onnx, numpy_helper, tensor, what: str) -> np.ndarray:
    """A tensor of the file as an array, after checking that it is self-contained and bounded."""
    if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
        raise refusal(what, "its data lies in an external file; only self-contained models are "
                            "read (save the model with its tensors inside)")
    type_name = onnx.TensorProto.DataType.Name(tensor.data_type) \
        if tensor.data_type in onnx.TensorProto.DataType.values() else str(tensor.data_type)
    if type_name not in NUMERIC_TYPES:
        raise refusal(what, f"its element type {type_name} is not a number")
    dims = list(tensor.dims)
    if any(size < 0 for size in dims) or math.prod(dims) > MAX_TENSOR_ELEMENTS:
        raise refusal(what, f"its shape {_short(dims)} is negative or larger than "
                            f"{MAX_TENSOR_ELEMENTS} elements")
    try:
        return numpy_helper.to_array(tensor)
    except (ValueError, TypeError) as error:
        raise refusal(what, f"its data does not fit its shape {_short(dims)} ({error})") from None


def _constant(onnx, numpy_helper, node: _Node) -> np.ndarray:
    """The value of a Constant node: a tensor, or one or more floats or integers."""
    if len(node.attributes) != 1:
        raise refusal(node.label, f"a Constant needs one value attribute, got {sorted(node.attributes)}")
    name, value = next(iter(node.attributes.items()))
    if name == "value" and isinstance(value, onnx.TensorProto):
        return _tensor(onnx, numpy_helper, value, node.label)
    kinds = {"value_float": (float, False), "value_floats": (float, True),
             "value_int": (int, False), "value_ints": (int, True)}
    if name in kinds:
        kind, many = kinds[name]
        values = value if many and isinstance(value, (list, tuple)) else [value]
        if (many or not isinstance(value, (list, tuple))) and all(
                isinstance(item, (int, float) if kind is float else int) and
                not isinstance(item, bool) for item in values):
            return np.asarray(value, dtype=np.float32 if kind is float else np.int64)
    raise node.refuse(name, value, "only a tensor, floats or integers are read")


def _transposed(node: _Node, value: np.ndarray) -> np.ndarray:
    """A Transpose of a constant (PyTorch exports a Linear without bias as one before a MatMul),
    computed once."""
    perm = node.get("perm", None)
    axes = list(range(value.ndim))[::-1] if perm is None else list(perm)
    if sorted(axes) != list(range(value.ndim)):
        raise node.refuse("perm", perm, f"a permutation of the {value.ndim} axes is expected")
    return np.ascontiguousarray(np.transpose(value, axes))


def _layer(node: _Node, following: list, constants: dict, rank: Optional[int] = None,
           opset: int = DEFAULT_OPSET, shape: Optional[tuple[int, ...]] = None
           ) -> tuple[Optional[Layer], int]:
    """The layer for ``node`` (None for an identity) and how many nodes it consumed; ``rank``
    and ``shape`` (one sample's) are those of the node's input (None if unknown), ``opset`` the
    model's."""
    spatial = shape[1:] if shape is not None and len(shape) == 3 else None
    if node.op in ELEMENTWISE:
        return _build(node, ELEMENTWISE[node.op]), 1
    if node.op == "LeakyRelu":
        return _build(node, LeakyRelu, node.number("alpha", 0.01)), 1
    if node.op == "PRelu":
        return _prelu(node, constants, rank, opset), 1
    if node.op in OVER_CHANNELS:
        return _over_channels(node, rank, opset), 1
    if node.op in GLOBAL_POOLINGS:
        return _global_pooling(node, following, constants)
    if node.op in PASS_THROUGH:
        return None, 1
    if node.op == "Conv":
        return _convolution(node, constants, spatial), 1
    if node.op == "Pad":
        return _padded_convolution(node, following, constants, spatial, opset)
    if node.op in ("MaxPool", "AveragePool"):
        return _pooling(node, spatial), 1
    if node.op == "Flatten":
        axis = node.integer("axis", 1)
        if axis != 1 and not (rank is not None and axis == 1 - rank):
            raise node.refuse("axis", axis, "only axis 1 flattens per sample (the others join "
                                            "samples, or keep axes apart)")
        return Flatten(), 1
    if node.op == "Reshape":
        shape = constants.get(node.inputs[1]) if len(node.inputs) > 1 else None
        if shape is None or shape.dtype.kind not in "iu" or shape.shape != (2,) or shape[1] == 0:
            raise refusal(node.label, f"only a reshape to (N, -1) or (N, features) can be mapped "
                                      f"(to Flatten), got shape {None if shape is None else _short(shape.tolist())}")
        return Flatten(), 1
    if node.op == "Gemm":
        return _gemm(node, constants), 1
    if node.op == "MatMul":
        return _matmul(node, following, constants)
    if node.op == "BatchNormalization":
        return _batch_norm(node, constants), 1
    raise refusal(node.label, f"the operator {node.op[:60]} has no cnn layer")


def _prelu(node: _Node, constants: dict, rank: Optional[int], opset: int) -> PRelu:
    """PRelu's slope: one value, or one per channel shaped to broadcast along axis 1 (before
    opset 7, whose PRelu did not broadcast, a slope (C,) is per channel at any rank)."""
    if len(node.inputs) < 2 or node.inputs[1] not in constants:
        raise refusal(node.label, "its slope must be a constant of the graph")
    slope = np.asarray(constants[node.inputs[1]], dtype=np.float32)
    if slope.size == 1:
        return _build(node, PRelu, slope.reshape(1))
    channels = slope.size
    per_channel = {2: [(channels,), (1, channels)],
                   4: [(channels, 1, 1), (1, channels, 1, 1)]}
    allowed = per_channel.get(rank, []) if rank is not None else sum(per_channel.values(), [])
    if opset < 7:
        allowed = allowed + [(channels,)]
    if slope.shape not in allowed:
        raise refusal(node.label, f"its slope of shape {_short(slope.shape)} does not broadcast "
                                  f"along the channels (axis 1) of an input of rank {rank}")
    return _build(node, PRelu, slope.reshape(channels).copy())


def _over_channels(node: _Node, rank: Optional[int], opset: int) -> Layer:
    """Softmax or LogSoftmax over axis 1 (the last axis of a batch of vectors)."""
    axis = node.integer("axis", -1 if opset >= 13 else 1)
    if axis < 0 and rank is not None:
        axis += rank
    if axis != 1:
        raise node.refuse("axis", node.get("axis", -1), "cnn's softmax runs over axis 1, "
                                                        "the classes or channels")
    if opset < 13 and rank != 2:
        raise refusal(node.label, f"before opset 13 (the model's is {opset}) {node.op} flattens "
                                  f"every axis from 1 on; only a batch of vectors maps")
    return _build(node, OVER_CHANNELS[node.op])


def _global_pooling(node: _Node, following: list, constants: dict) -> tuple[Layer, int]:
    """A global pooling and the Flatten (or Reshape to (N, -1)) after it, which its (N, C)
    output makes an identity; it must end the image layers."""
    layer = _build(node, GLOBAL_POOLINGS[node.op])
    if not following:
        return layer, 1
    after = following[0]
    if after.op in ("Flatten", "Reshape") and after.inputs[:1] == node.outputs[:1]:
        flattening, _ = _layer(after, following[1:], constants)
        return layer, 2 if isinstance(flattening, Flatten) else 1
    raise refusal(node.label, f"its (N, C, 1, 1) output goes on to {after.label}; cnn's global "
                              f"pooling gives (N, C) and must be followed by Flatten")


def _build(node: _Node, make: Callable[..., Layer], *args, **kwargs) -> Layer:
    """``make(*args, **kwargs)``, its refusal of the values read turned into one naming ``node``."""
    try:
        return make(*args, **kwargs)
    except (ValueError, TypeError) as error:
        raise refusal(node.label, str(error)) from None


def _weight(node: _Node, constants: dict, position: int, what: str, ndim: int) -> np.ndarray:
    if len(node.inputs) <= position or node.inputs[position] not in constants:
        raise refusal(node.label, f"its {what} must be a constant of the graph")
    value = constants[node.inputs[position]]
    if value.ndim != ndim or value.size == 0:
        raise refusal(node.label, f"its {what} must be a non-empty {ndim}-D tensor, got shape "
                                  f"{_short(value.shape)}")
    return np.ascontiguousarray(value, dtype=np.float32)


def _optional_input(node: _Node, position: int) -> bool:
    return len(node.inputs) > position and bool(node.inputs[position])


def _convolution(node: _Node, constants: dict, spatial: Optional[tuple[int, int]] = None,
                 extra: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))) -> Convolution:
    """A Conv; ``spatial``: the input's (H, W) if known, for SAME padding with a stride;
    ``extra``: the padding of a Pad node before it, added to its own."""
    W = _weight(node, constants, 1, "weight", 4)
    kernel = list(W.shape[2:])
    if node.sizes("kernel_shape", kernel, 2, 1) != kernel:
        raise node.refuse("kernel_shape", node.get("kernel_shape", None),
                          f"the weight's filters are {kernel[0]}x{kernel[1]}")
    if max(kernel) > MAX_WINDOW:
        raise refusal(node.label, f"its {kernel[0]}x{kernel[1]} filters are larger than "
                                  f"{MAX_WINDOW}x{MAX_WINDOW}")
    groups = node.integer("group", 1)
    if not 1 <= groups <= MAX_CHANNELS:
        raise node.refuse("group", groups, f"from 1 to {MAX_CHANNELS} groups are expected")
    strides = node.sizes("strides", [1, 1], 2, 1)
    dilations = node.sizes("dilations", [1, 1], 2, 1)
    spans = [reach(size, spread) for size, spread in zip(kernel, dilations)]
    b = _weight(node, constants, 2, "bias", 1) if _optional_input(node, 2) else \
        np.zeros(W.shape[0], np.float32)
    if extra != ((0, 0), (0, 0)):
        spatial = None if spatial is None else tuple(
            size + sum(sides) for size, sides in zip(spatial, extra))
    pads = side_pads(_window_pads(node, spans, strides, spatial))
    pads = tuple((before + more_before, after + more_after) for (before, after), (more_before, more_after)
                 in zip(pads, extra))
    return _build(node, Convolution, W, b, stride=tuple(strides), pad=pads,
                  dilation=tuple(dilations), groups=groups)


def _padded_convolution(node: _Node, following: list, constants: dict,
                        spatial: Optional[tuple[int, int]], opset: int) -> tuple[Convolution, int]:
    """A Pad of zeros on the image axes followed by a Conv: one convolution padding both."""
    if not following or following[0].op != "Conv" or following[0].inputs[:1] != node.outputs[:1]:
        raise refusal(node.label, "a Pad maps only when a Conv follows it, as that convolution's "
                                  "padding")
    mode = node.get("mode", "constant")
    if mode != "constant":
        raise node.refuse("mode", mode, "cnn pads with zeros")
    if opset >= 11:
        pads = constants.get(node.inputs[1]) if len(node.inputs) > 1 else None
        value = constants.get(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
        if len(node.inputs) > 3 and node.inputs[3]:
            raise refusal(node.label, "a Pad with axes is not read")
    else:
        pads, value = node.get("pads", None), node.get("value", 0.0)
    if value is not None and np.any(np.asarray(value) != 0):
        raise refusal(node.label, f"it pads with {_short(np.asarray(value).tolist())}; cnn pads with zeros")
    pads = None if pads is None else np.asarray(pads)
    if pads is None or pads.shape != (8,) or pads.dtype.kind not in "iu" or np.any(pads < 0) \
            or np.any(pads > MAX_WINDOW) or np.any(pads[[0, 1, 4, 5]] != 0):
        raise refusal(node.label, f"only a constant Pad of 0 to {MAX_WINDOW} rows and columns on "
                                  f"the image axes maps, got pads "
                                  f"{None if pads is None else _short(pads.tolist())}")
    top, left, bottom, right = (int(pads[index]) for index in (2, 3, 6, 7))
    return _convolution(following[0], constants, spatial, ((top, bottom), (left, right))), 2


def _window_pads(node: _Node, spans: list[int], strides: list[int],
                 spatial: Optional[tuple[int, int]] = None):
    """A window's ``((top, bottom), (left, right))`` from ``pads`` or ``auto_pad``
    (``SAME_UPPER``/``SAME_LOWER``, ``VALID``), each side at most the window's span
    (dilated size). SAME with a stride needs the input's ``spatial`` size."""
    auto_pad = node.get("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        if strides == [1, 1]:
            totals = [size - 1 for size in spans]
        elif spatial is not None:  # out = ceil(in / stride), as ONNX defines SAME
            totals = [max(0, (-(-size // step) - 1) * step + window - size)
                      for size, step, window in zip(spatial, strides, spans)]
        else:
            raise node.refuse("auto_pad", auto_pad, "SAME padding with a stride depends on the "
                                                    "input size, which the graph input does not fix")
        first = [total // 2 if auto_pad == "SAME_UPPER" else total - total // 2 for total in totals]
        return tuple((before, total - before) for before, total in zip(first, totals))
    if auto_pad == "VALID":
        return 0
    if auto_pad != "NOTSET":
        raise node.refuse("auto_pad", auto_pad, "NOTSET, SAME_UPPER, SAME_LOWER or VALID is expected")
    top, left, bottom, right = node.sizes("pads", [0, 0, 0, 0], 4, 0)
    if max(top, bottom) > spans[0] or max(left, right) > spans[1]:
        raise node.refuse("pads", [top, left, bottom, right],
                          f"padding wider than the {spans[0]}x{spans[1]} window only adds borders")
    return (top, bottom), (left, right)


def _pooling(node: _Node, spatial: Optional[tuple[int, int]] = None) -> Layer:
    if len(node.outputs) > 1:
        raise refusal(node.label, "the indices output of MaxPool has no cnn layer")
    kernel = node.sizes("kernel_shape", None, 2, 1)
    pool_h, pool_w = kernel
    strides = node.sizes("strides", [1, 1], 2, 1)
    dilations = node.sizes("dilations", [1, 1], 2, 1)
    ceil_mode = node.integer("ceil_mode", 0)
    if ceil_mode not in (0, 1):
        raise node.refuse("ceil_mode", ceil_mode, "0 or 1 is expected")
    spans = [reach(size, spread) for size, spread in zip(kernel, dilations)]
    pads = _window_pads(node, spans, strides, spatial)
    if node.op == "MaxPool":
        return _build(node, Pooling, pool_h, pool_w, tuple(strides), pads, ceil_mode=bool(ceil_mode),
                      dilation=tuple(dilations))
    count_include_pad = node.integer("count_include_pad", 0)
    if count_include_pad not in (0, 1):
        raise node.refuse("count_include_pad", count_include_pad, "0 or 1 is expected")
    return _build(node, AvgPooling, pool_h, pool_w, tuple(strides), pads, ceil_mode=bool(ceil_mode),
                  count_include_pad=bool(count_include_pad), dilation=tuple(dilations))


def _bias(node: _Node, value: np.ndarray, features: int) -> np.ndarray:
    """A bias of shape (), (1,), (features,) or (1, features) as (features,)."""
    if value.shape not in ((), (1,), (features,), (1, features)):
        raise refusal(node.label, f"its bias of shape {_short(value.shape)} does not add one value "
                                  f"per output feature ({features})")
    return np.ascontiguousarray(np.broadcast_to(np.asarray(value, np.float32).reshape(-1),
                                                (features,)))


def _gemm(node: _Node, constants: dict) -> Affine:
    if node.integer("transA", 0) != 0:
        raise node.refuse("transA", node.get("transA", 0), "the data must be rows (N, features)")
    W = _weight(node, constants, 1, "weight", 2)
    W = W.T if node.integer("transB", 0) else W
    alpha, beta = node.number("alpha", 1.0), node.number("beta", 1.0)
    if _optional_input(node, 2):
        if node.inputs[2] not in constants:
            raise refusal(node.label, "its bias must be a constant of the graph")
        b = _bias(node, constants[node.inputs[2]], W.shape[1]) * np.float32(beta)
    else:
        b = np.zeros(W.shape[1], np.float32)
    return _build(node, Affine, np.ascontiguousarray(W * np.float32(alpha)), b)


def _matmul(node: _Node, following: list, constants: dict) -> tuple[Affine, int]:
    """MatMul by a constant, with the Add of a constant bias that may follow it."""
    W = _weight(node, constants, 1, "weight", 2)
    if following and following[0].op == "Add" and node.outputs[0] in following[0].inputs:
        add = following[0]
        bias = [name for name in add.inputs if name != node.outputs[0]]
        if len(bias) == 1 and bias[0] in constants:
            return _build(add, Affine, W, _bias(add, constants[bias[0]], W.shape[1])), 2
    return _build(node, Affine, W, np.zeros(W.shape[1], np.float32)), 1


def _batch_norm(node: _Node, constants: dict) -> BatchNormalization:
    if len(node.outputs) > 1:
        raise refusal(node.label, "the training outputs of BatchNormalization have no cnn layer")
    gamma, beta, mean, var = (_weight(node, constants, position, what, 1) for position, what in
                              ((1, "scale"), (2, "bias"), (3, "mean"), (4, "variance")))
    if not gamma.shape == beta.shape == mean.shape == var.shape:
        raise refusal(node.label, "its scale, bias, mean and variance must have one shape")
    layer = _build(node, BatchNormalization, gamma, beta, momentum=node.number("momentum", 0.9),
                   eps=node.number("epsilon", 1e-5))
    layer.buffers[0][...] = mean
    layer.buffers[1][...] = var
    return layer


def _check_growth(layers: list[Layer], input_shape: Optional[tuple[int, ...]]) -> None:
    """Refuse a chain that could make a small input huge: channels and features above
    :data:`MAX_CHANNELS`, padding that adds more than :data:`MAX_GROWTH` pixels in all, and, for
    a fixed input shape, any layer's output above :data:`MAX_IMPORT_SAMPLE_ELEMENTS` per sample."""
    growth, shape = 0, input_shape
    for index, layer in enumerate(layers):
        what = f"layers[{index}] ({layer!r})"
        if isinstance(layer, (Convolution, Affine)):
            width = layer.params[0].shape[0 if isinstance(layer, Convolution) else 1]
            if width > MAX_CHANNELS:
                raise refusal(what, f"it makes {width} channels or features, more than {MAX_CHANNELS}")
        growth += _padding_growth(layer)
        if growth > MAX_GROWTH:
            raise refusal(what, f"the padding up to this layer adds {growth} pixels to each image, "
                                f"more than {MAX_GROWTH}")
        if shape is not None:
            shape = _output_shape(layer, shape, what)
            if math.prod(shape) > MAX_IMPORT_SAMPLE_ELEMENTS:
                raise refusal(what, f"it makes {_short(shape)} of each sample, more than "
                                    f"{MAX_IMPORT_SAMPLE_ELEMENTS} elements")


def _padding_growth(layer: Layer) -> int:
    """How many pixels a layer's padding can add to a side of an image, at most."""
    if isinstance(layer, Convolution):
        spans = [reach(size, spread) for size, spread in zip(layer.params[0].shape[2:], layer.dilations)]
        return max(0, *(sum(sides) - span + 1 for sides, span in zip(layer.pads, spans)))
    if isinstance(layer, (Pooling, AvgPooling)):
        return max(0, *(sum(sides) - size + 1 for sides, size in
                        zip(layer.pads, (layer.pool_h, layer.pool_w))))
    return 0


def _output_shape(layer: Layer, shape: tuple[int, ...], what: str) -> tuple[int, ...]:
    """The shape of one sample after ``layer``, or a refusal when the layer cannot take it."""
    try:
        return tuple(layer.output_shape(shape))
    except ValueError as error:
        raise refusal(what, f"it does not fit the output of the layers before it: {error}") from None


def _input_rank(value) -> Optional[int]:
    """The rank of the graph input, if the file says it."""
    kind = value.type.tensor_type
    return len(kind.shape.dim) if kind.HasField("shape") else None


def _input_shape(value) -> Optional[tuple[int, ...]]:
    """The graph input's sizes after the batch axis, when all are fixed numbers (bounded)."""
    dims = value.type.tensor_type.shape.dim[1:]
    sizes = tuple(dim.dim_value for dim in dims)
    if not sizes or not all(size > 0 for size in sizes):
        return None
    if math.prod(sizes) > MAX_IMPORT_SAMPLE_ELEMENTS:
        raise refusal(f"the graph input {value.name!r}", f"one sample of shape {_short(sizes)} "
                                                         f"holds more than {MAX_IMPORT_SAMPLE_ELEMENTS} elements")
    return sizes


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
