"""Converters of the activations: ReLU, sigmoid and tanh (one ONNX operator each), LeakyRelu,
PRelu, and Softmax and LogSoftmax over axis 1."""

from __future__ import annotations

import numpy as np

from cnn.interop.layout import ELEMENTWISE_OPS, OVER_CHANNELS_OPS, layer_of
from cnn.interop.onnx_nodes import build, refusal, short
from cnn.interop.registry import exports_to_onnx, exports_to_torch, imports_from_onnx, imports_from_torch
from cnn.interop.torch_exchange import array_of, refuse_module
from cnn.layers import LeakyRelu, LogSoftmax, PRelu, Relu, Sigmoid, Softmax, Tanh

#: The torch.nn module of each layer that maps one to one.
TORCH_MODULES = {Relu: "ReLU", Sigmoid: "Sigmoid", Tanh: "Tanh"}
ELEMENTWISE_LAYERS, OVER_CHANNELS_LAYERS = layer_of(ELEMENTWISE_OPS), layer_of(OVER_CHANNELS_OPS)


@exports_to_onnx(*ELEMENTWISE_OPS, *OVER_CHANNELS_OPS)
def to_onnx_operator(layer, writer) -> None:
    if type(layer) in OVER_CHANNELS_OPS:
        writer.emit(OVER_CHANNELS_OPS[type(layer)], [writer.current], axis=1)
    else:
        writer.emit(ELEMENTWISE_OPS[type(layer)], [writer.current])


@exports_to_onnx(LeakyRelu)
def leaky_relu_to_onnx(layer, writer) -> None:
    writer.emit("LeakyRelu", [writer.current], alpha=layer.alpha)


@exports_to_onnx(PRelu)
def prelu_to_onnx(layer, writer) -> None:
    alpha = layer.params[0]
    # ONNX broadcasts the slope from the last axis: per channel of images is (C, 1, 1).
    slope = alpha.reshape((-1,) + (1,) * (writer.rank - 2)) if alpha.shape[0] > 1 else alpha
    writer.emit("PRelu", [writer.current, writer.constant(f"{writer.prefix}.alpha", slope)])


@imports_from_onnx(*ELEMENTWISE_OPS.values())
def elementwise_from_onnx(node, reader):
    return build(node, ELEMENTWISE_LAYERS[node.op]), 1


@imports_from_onnx("LeakyRelu")
def leaky_relu_from_onnx(node, reader):
    return build(node, LeakyRelu, node.number("alpha", 0.01)), 1


@imports_from_onnx("PRelu", since=1)
def prelu_from_onnx_before_7(node, reader):
    """Before opset 7 PRelu did not broadcast: a slope (C,) is per channel at any rank."""
    return _prelu(node, reader, vector_per_channel=True), 1


@imports_from_onnx("PRelu", since=7)
def prelu_from_onnx(node, reader):
    return _prelu(node, reader, vector_per_channel=False), 1


def _prelu(node, reader, vector_per_channel: bool) -> PRelu:
    """PRelu's slope: one value, or one per channel shaped to broadcast along axis 1."""
    if len(node.inputs) < 2 or node.inputs[1] not in reader.constants:
        raise refusal(node.label, "its slope must be a constant of the graph")
    slope = np.asarray(reader.constants[node.inputs[1]], dtype=np.float32)
    if slope.size == 1:
        return build(node, PRelu, slope.reshape(1))
    channels = slope.size
    per_channel = {2: [(channels,), (1, channels)],
                   4: [(channels, 1, 1), (1, channels, 1, 1)]}
    rank = reader.rank
    allowed = per_channel.get(rank, []) if rank is not None else sum(per_channel.values(), [])
    if vector_per_channel:
        allowed = allowed + [(channels,)]
    if slope.shape not in allowed:
        raise refusal(node.label, f"its slope of shape {short(slope.shape)} does not broadcast "
                                  f"along the channels (axis 1) of an input of rank {rank}")
    return build(node, PRelu, slope.reshape(channels).copy())


@imports_from_onnx(*OVER_CHANNELS_OPS.values(), since=1)
def over_channels_from_onnx_before_13(node, reader):
    """Before opset 13, Softmax's axis defaults to 1 and flattens every axis from it on."""
    _check_axis(node, reader, node.integer("axis", 1))
    if reader.rank != 2:
        raise refusal(node.label, f"before opset 13 (the model's is {reader.opset}) {node.op} "
                                  f"flattens every axis from 1 on; only a batch of vectors maps")
    return _over_channels(node), 1


@imports_from_onnx(*OVER_CHANNELS_OPS.values(), since=13)
def over_channels_from_onnx(node, reader):
    _check_axis(node, reader, node.integer("axis", -1))
    return _over_channels(node), 1


def _check_axis(node, reader, axis: int) -> None:
    if axis < 0 and reader.rank is not None:
        axis += reader.rank
    if axis != 1:
        raise node.refuse("axis", node.get("axis", -1), "cnn's softmax runs over axis 1, "
                                                        "the classes or channels")


def _over_channels(node):
    return build(node, OVER_CHANNELS_LAYERS[node.op])


@exports_to_torch(*TORCH_MODULES)
def to_torch_module(layer, writer) -> list:
    return [getattr(writer.nn, TORCH_MODULES[type(layer)])()]


@exports_to_torch(LeakyRelu)
def leaky_relu_to_torch(layer, writer) -> list:
    return [writer.nn.LeakyReLU(layer.alpha)]


@exports_to_torch(PRelu)
def prelu_to_torch(layer, writer) -> list:
    alpha = layer.params[0]
    module = writer.nn.PReLU(alpha.shape[0], dtype=writer.dtype(alpha))
    module.weight.data = writer.tensor(alpha)
    return [module]


@exports_to_torch(Softmax, LogSoftmax)
def over_channels_to_torch(layer, writer) -> list:
    return [(writer.nn.Softmax if isinstance(layer, Softmax) else writer.nn.LogSoftmax)(dim=1)]


@imports_from_torch(*TORCH_MODULES.values())
def from_torch_module(nn, name, child, padded):
    return next(cls for cls, module in TORCH_MODULES.items() if isinstance(child, getattr(nn, module)))()


@imports_from_torch("LeakyReLU")
def leaky_relu_from_torch(nn, name, child, padded):
    return LeakyRelu(child.negative_slope)


@imports_from_torch("PReLU")
def prelu_from_torch(nn, name, child, padded):
    return PRelu(array_of(child.weight))


@imports_from_torch("Softmax", "LogSoftmax")
def over_channels_from_torch(nn, name, child, padded):
    if child.dim != 1:
        raise refuse_module(name, child, "dim", child.dim, "cnn's softmax runs over dim 1")
    return Softmax() if isinstance(child, nn.Softmax) else LogSoftmax()
