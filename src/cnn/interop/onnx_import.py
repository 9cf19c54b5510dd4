"""An ONNX model read back as a Sequential: what to_onnx writes, and PyTorch's export of such networks."""

from __future__ import annotations

import os
from typing import Any, Optional

import numpy as np

from cnn.interop.requirements import require
from cnn.layers import (Affine, AvgPooling, BatchNormalization, Convolution, Dropout, Flatten, Layer,
                        Pooling, Relu, Sigmoid, Tanh)
from cnn.models.sequential import Sequential

__all__ = ["from_onnx"]

ELEMENTWISE = {"Relu": Relu, "Sigmoid": Sigmoid, "Tanh": Tanh}
PASS_THROUGH = {"Dropout", "Identity"}


class _Node:
    """One ONNX node with its attributes as Python values, and a name for messages."""

    def __init__(self, node, index: int, helper) -> None:
        self.op = node.op_type
        self.inputs = list(node.input)
        self.outputs = list(node.output)
        self.attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        self.label = f"node {index} ({node.op_type}{' ' + repr(node.name) if node.name else ''})"

    def refuse(self, attribute: str, value: Any, reason: str) -> ValueError:
        return ValueError(f"from_onnx: {self.label}: attribute {attribute}={value!r} cannot be mapped: "
                          f"{reason}")

    def get(self, name: str, default: Any) -> Any:
        value = self.attributes.get(name, default)
        return value.decode() if isinstance(value, bytes) else value


def from_onnx(path: str | os.PathLike) -> Sequential:
    """Read an ONNX model of a plain chain of layers as a :class:`~cnn.models.Sequential`.

    Reads the files :func:`~cnn.interop.to_onnx` writes and the common ONNX that other tools
    write for such networks (PyTorch's ``torch.onnx.export`` of a LeNet): Conv, Relu, MaxPool,
    Flatten or Reshape to (N, -1), Gemm or MatMul followed by Add, BatchNormalization,
    AveragePool, Sigmoid, Tanh, Dropout and Identity. The weights become float32 layers, the loss
    :class:`~cnn.losses.SoftmaxWithLoss`, and ``input_shape`` the graph input's fixed sizes.

    Raises:
        ValueError: naming the node and the attribute (or operator) that cannot be mapped:
            dilations, groups, ceil_mode, auto_pad other than NOTSET, asymmetric padding,
            a graph that is not a chain, an operator of another kind.
        ImportError: without ``onnx`` (``pip install "cnn-ext[onnx]"``).
    """
    onnx = require("onnx")
    from onnx import helper, numpy_helper

    graph = onnx.load(os.fspath(path)).graph
    constants = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    inputs = [value for value in graph.input if value.name not in constants]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ValueError(f"from_onnx: the graph must have one data input and one output, got "
                         f"{len(inputs)} inputs and {len(graph.output)} outputs")
    nodes = []
    for index, node in enumerate(graph.node):
        if node.op_type == "Constant":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        else:
            nodes.append(_Node(node, index, helper))

    layers: list[Layer] = []
    current = inputs[0].name
    position = 0
    while position < len(nodes):
        node = nodes[position]
        data = [name for name in node.inputs if name and name not in constants]
        if data != [current]:
            raise ValueError(f"from_onnx: {node.label} does not continue a chain of layers "
                             f"(its data inputs are {data}, the chain is at {current!r})")
        layer, consumed = _layer(node, nodes[position + 1:], constants)
        if layer is not None:
            layers.append(layer)
        current = nodes[position + consumed - 1].outputs[0]
        position += consumed
    if current != graph.output[0].name:
        raise ValueError(f"from_onnx: the chain ends at {current!r}, not at the graph output "
                         f"{graph.output[0].name!r}")
    if not layers:
        raise ValueError("from_onnx: the graph holds no layer")
    return Sequential(layers, input_shape=_input_shape(inputs[0]))


def _layer(node: _Node, following: list, constants: dict) -> tuple[Optional[Layer], int]:
    """The layer for ``node`` (None for an identity) and how many nodes it consumed."""
    if node.op in ELEMENTWISE:
        return ELEMENTWISE[node.op](), 1
    if node.op in PASS_THROUGH:
        return None, 1
    if node.op == "Conv":
        return _convolution(node, constants), 1
    if node.op in ("MaxPool", "AveragePool"):
        return _pooling(node), 1
    if node.op == "Flatten":
        if node.get("axis", 1) != 1:
            raise node.refuse("axis", node.get("axis", 1), "only axis=1 flattens per sample")
        return Flatten(), 1
    if node.op == "Reshape":
        shape = constants.get(node.inputs[1]) if len(node.inputs) > 1 else None
        if shape is None or len(shape) != 2 or shape[1] == 0:
            raise ValueError(f"from_onnx: {node.label}: only a reshape to (N, -1) or (N, features) "
                             f"can be mapped (to Flatten), got shape {None if shape is None else list(shape)}")
        return Flatten(), 1
    if node.op == "Gemm":
        return _gemm(node, constants), 1
    if node.op == "MatMul":
        return _matmul(node, following, constants)
    if node.op == "BatchNormalization":
        return _batch_norm(node, constants), 1
    raise ValueError(f"from_onnx: {node.label}: the operator {node.op} has no cnn layer")


def _weight(node: _Node, constants: dict, position: int, what: str) -> np.ndarray:
    if len(node.inputs) <= position or node.inputs[position] not in constants:
        raise ValueError(f"from_onnx: {node.label}: its {what} must be a constant of the graph")
    return np.ascontiguousarray(constants[node.inputs[position]], dtype=np.float32)


def _check_common(node: _Node, spatial: int = 2) -> int:
    """Check auto_pad, dilations and symmetric pads; return the one padding."""
    if node.get("auto_pad", "NOTSET") != "NOTSET":
        raise node.refuse("auto_pad", node.get("auto_pad", ""), "only NOTSET with explicit pads")
    dilations = list(node.get("dilations", [1] * spatial))
    if any(step != 1 for step in dilations):
        raise node.refuse("dilations", dilations, "cnn's windows are not dilated")
    pads = list(node.get("pads", [0] * 2 * spatial))
    if len(set(pads)) != 1:
        raise node.refuse("pads", pads, "cnn pads every side by the same amount")
    return int(pads[0])


def _convolution(node: _Node, constants: dict) -> Convolution:
    if node.get("group", 1) != 1:
        raise node.refuse("group", node.get("group", 1), "cnn's convolutions are not grouped")
    pad = _check_common(node)
    strides = list(node.get("strides", [1, 1]))
    if len(set(strides)) != 1:
        raise node.refuse("strides", strides, "cnn steps by the same stride on both axes")
    W = _weight(node, constants, 1, "weight")
    b = _weight(node, constants, 2, "bias") if len(node.inputs) > 2 and node.inputs[2] else \
        np.zeros(W.shape[0], np.float32)
    return Convolution(W, b, stride=int(strides[0]), pad=pad)


def _pooling(node: _Node) -> Layer:
    if node.get("ceil_mode", 0) != 0:
        raise node.refuse("ceil_mode", node.get("ceil_mode", 0), "cnn floors the output size")
    pad = _check_common(node)
    pool_h, pool_w = (int(size) for size in node.get("kernel_shape", []))
    strides = [int(step) for step in node.get("strides", [1, 1])]
    stride = tuple(strides)
    if node.op == "MaxPool":
        if 2 * pad > min(pool_h, pool_w):
            raise node.refuse("pads", [pad] * 4, "cnn's max pooling pads at most half the window")
        return Pooling(pool_h, pool_w, stride, pad)
    if pad and node.get("count_include_pad", 0) != 1:
        raise node.refuse("count_include_pad", node.get("count_include_pad", 0),
                          "cnn's average pooling counts the padding as zeros")
    if len(set(strides)) != 1:
        raise node.refuse("strides", strides, "cnn's average pooling steps by one stride on both axes")
    return AvgPooling(pool_h, pool_w, stride, pad)


def _gemm(node: _Node, constants: dict) -> Affine:
    if node.get("transA", 0) != 0:
        raise node.refuse("transA", node.get("transA", 0), "the data must be rows (N, features)")
    W = _weight(node, constants, 1, "weight")
    W = W.T if node.get("transB", 0) else W
    b = _weight(node, constants, 2, "bias") if len(node.inputs) > 2 and node.inputs[2] else \
        np.zeros(W.shape[1], np.float32)
    alpha, beta = float(node.get("alpha", 1.0)), float(node.get("beta", 1.0))
    return Affine(np.ascontiguousarray(W * np.float32(alpha)),
                  np.ascontiguousarray(np.broadcast_to(b * np.float32(beta), (W.shape[1],))))


def _matmul(node: _Node, following: list, constants: dict) -> tuple[Affine, int]:
    """MatMul by a constant, with the Add of a constant bias that may follow it."""
    W = _weight(node, constants, 1, "weight")
    if W.ndim != 2:
        raise ValueError(f"from_onnx: {node.label}: only a product with a 2-D weight can be mapped")
    if following and following[0].op == "Add" and node.outputs[0] in following[0].inputs:
        add = following[0]
        bias = [name for name in add.inputs if name != node.outputs[0]]
        if len(bias) == 1 and bias[0] in constants:
            b = np.broadcast_to(np.asarray(constants[bias[0]], np.float32), (W.shape[1],))
            return Affine(W, np.ascontiguousarray(b)), 2
    return Affine(W, np.zeros(W.shape[1], np.float32)), 1


def _batch_norm(node: _Node, constants: dict) -> BatchNormalization:
    gamma, beta, mean, var = (_weight(node, constants, position, what) for position, what in
                              ((1, "scale"), (2, "bias"), (3, "mean"), (4, "variance")))
    layer = BatchNormalization(gamma, beta, momentum=float(node.get("momentum", 0.9)),
                               eps=float(node.get("epsilon", 1e-5)))
    layer.buffers[0][...] = mean
    layer.buffers[1][...] = var
    return layer


def _input_shape(value) -> Optional[tuple[int, ...]]:
    """The graph input's sizes after the batch axis, when all are fixed numbers."""
    dims = value.type.tensor_type.shape.dim[1:]
    sizes = tuple(dim.dim_value for dim in dims)
    return sizes if sizes and all(size > 0 for size in sizes) else None
