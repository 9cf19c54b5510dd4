"""Converters of Affine and Flatten: ONNX's Gemm, MatMul (with the Add of a bias after it),
Flatten and Reshape to (N, -1); PyTorch's Linear (its weight transposed) and Flatten."""

from __future__ import annotations

import numpy as np

from cnn.interop.onnx_nodes import build, refusal, short
from cnn.interop.registry import exports_to_onnx, exports_to_torch, imports_from_onnx, imports_from_torch
from cnn.interop.torch_exchange import array_of, refuse_module
from cnn.layers import Affine, Flatten


@exports_to_onnx(Flatten)
def flatten_to_onnx(layer, writer) -> None:
    writer.emit("Flatten", [writer.current], axis=1)


@exports_to_onnx(Affine)
def to_onnx(layer, writer) -> None:
    if writer.rank > 2:  # Affine flattens an image batch itself; Gemm needs the flat rows
        writer.emit("Flatten", [writer.current], f"{writer.prefix}.flatten", axis=1)
    W, b = layer.params
    writer.emit("Gemm", [writer.current, writer.constant(f"{writer.prefix}.W", W),
                         writer.constant(f"{writer.prefix}.b", b)])


@imports_from_onnx("Flatten")
def flatten_from_onnx(node, reader):
    axis = node.integer("axis", 1)
    if axis != 1 and not (reader.rank is not None and axis == 1 - reader.rank):
        raise node.refuse("axis", axis, "only axis 1 flattens per sample (the others join "
                                        "samples, or keep axes apart)")
    return Flatten(), 1


@imports_from_onnx("Reshape")
def reshape_from_onnx(node, reader):
    shape = reader.constants.get(node.inputs[1]) if len(node.inputs) > 1 else None
    if shape is None or shape.dtype.kind not in "iu" or shape.shape != (2,) or shape[1] == 0:
        raise refusal(node.label, f"only a reshape to (N, -1) or (N, features) can be mapped "
                                  f"(to Flatten), got shape "
                                  f"{None if shape is None else short(shape.tolist())}")
    return Flatten(), 1


@imports_from_onnx("Gemm")
def gemm_from_onnx(node, reader):
    if node.integer("transA", 0) != 0:
        raise node.refuse("transA", node.get("transA", 0), "the data must be rows (N, features)")
    W = reader.weight(node, 1, "weight", 2)
    W = W.T if node.integer("transB", 0) else W
    alpha, beta = node.number("alpha", 1.0), node.number("beta", 1.0)
    if node.has_input(2):
        if node.inputs[2] not in reader.constants:
            raise refusal(node.label, "its bias must be a constant of the graph")
        b = _bias(node, reader.constants[node.inputs[2]], W.shape[1]) * np.float32(beta)
    else:
        b = np.zeros(W.shape[1], np.float32)
    return build(node, Affine, np.ascontiguousarray(W * np.float32(alpha)), b), 1


@imports_from_onnx("MatMul")
def matmul_from_onnx(node, reader):
    """MatMul by a constant, with the Add of a constant bias that may follow it."""
    W = reader.weight(node, 1, "weight", 2)
    following = reader.following
    if following and following[0].op == "Add" and node.outputs[0] in following[0].inputs:
        add = following[0]
        bias = [name for name in add.inputs if name != node.outputs[0]]
        if len(bias) == 1 and bias[0] in reader.constants:
            return build(add, Affine, W, _bias(add, reader.constants[bias[0]], W.shape[1])), 2
    return build(node, Affine, W, np.zeros(W.shape[1], np.float32)), 1


def _bias(node, value: np.ndarray, features: int) -> np.ndarray:
    """A bias of shape (), (1,), (features,) or (1, features) as (features,)."""
    if value.shape not in ((), (1,), (features,), (1, features)):
        raise refusal(node.label, f"its bias of shape {short(value.shape)} does not add one value "
                                  f"per output feature ({features})")
    return np.ascontiguousarray(np.broadcast_to(np.asarray(value, np.float32).reshape(-1),
                                                (features,)))


@exports_to_torch(Flatten)
def flatten_to_torch(layer, writer) -> list:
    return [writer.nn.Flatten()]


@exports_to_torch(Affine)
def to_torch(layer, writer) -> list:
    nn = writer.nn
    W, b = layer.params
    module = nn.Linear(W.shape[0], W.shape[1], dtype=writer.dtype(W))
    module.weight.data, module.bias.data = writer.tensor(W.T), writer.tensor(b)
    return ([nn.Flatten()] if writer.rank > 2 else []) + [module]


@imports_from_torch("Flatten")
def flatten_from_torch(nn, name, child, padded):
    if (child.start_dim, child.end_dim) != (1, -1):
        raise refuse_module(name, child, "start_dim, end_dim", (child.start_dim, child.end_dim),
                            "cnn flattens every axis after the batch axis")
    return Flatten()


@imports_from_torch("Linear")
def from_torch(nn, name, child, padded):
    W = array_of(child.weight).T.copy()
    b = array_of(child.bias) if child.bias is not None else np.zeros(W.shape[1], W.dtype)
    return Affine(W, b)
