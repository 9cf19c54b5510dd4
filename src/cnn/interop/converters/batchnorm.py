"""Converters of BatchNormalization, with its running statistics: ONNX's BatchNormalization and
PyTorch's BatchNorm1d and BatchNorm2d (whose momentum is 1 - cnn's)."""

from __future__ import annotations

import numpy as np

from cnn.interop.onnx_nodes import build, refusal
from cnn.interop.registry import exports_to_onnx, exports_to_torch, imports_from_onnx, imports_from_torch
from cnn.interop.torch_exchange import array_of, refuse_module
from cnn.layers import BatchNormalization


@exports_to_onnx(BatchNormalization)
def to_onnx(layer, writer) -> None:
    gamma, beta = layer.params
    running_mean, running_var = layer.buffers
    prefix = writer.prefix
    writer.emit("BatchNormalization",
                [writer.current, writer.constant(f"{prefix}.gamma", gamma),
                 writer.constant(f"{prefix}.beta", beta),
                 writer.constant(f"{prefix}.running_mean", running_mean),
                 writer.constant(f"{prefix}.running_var", running_var)],
                epsilon=layer.eps, momentum=layer.momentum)


@imports_from_onnx("BatchNormalization")
def from_onnx(node, reader):
    if len(node.outputs) > 1:
        raise refusal(node.label, "the training outputs of BatchNormalization have no cnn layer")
    gamma, beta, mean, var = (reader.weight(node, position, what, 1) for position, what in
                              ((1, "scale"), (2, "bias"), (3, "mean"), (4, "variance")))
    if not gamma.shape == beta.shape == mean.shape == var.shape:
        raise refusal(node.label, "its scale, bias, mean and variance must have one shape")
    layer = build(node, BatchNormalization, gamma, beta, momentum=node.number("momentum", 0.9),
                  eps=node.number("epsilon", 1e-5))
    layer.buffers[0][...] = mean
    layer.buffers[1][...] = var
    return layer, 1


@exports_to_torch(BatchNormalization)
def to_torch(layer, writer) -> list:
    gamma, beta = layer.params
    kind = writer.nn.BatchNorm2d if writer.rank == 4 else writer.nn.BatchNorm1d
    module = kind(gamma.shape[0], eps=layer.eps, momentum=1 - layer.momentum,
                  dtype=writer.dtype(gamma))
    module.weight.data, module.bias.data = writer.tensor(gamma), writer.tensor(beta)
    module.running_mean.data, module.running_var.data = (writer.tensor(buffer)
                                                         for buffer in layer.buffers)
    return [module]


@imports_from_torch("BatchNorm1d", "BatchNorm2d")
def from_torch(nn, name, child, padded):
    if child.running_mean is None:
        raise refuse_module(name, child, "track_running_stats", False,
                            "cnn's batch normalization keeps running statistics")
    if child.momentum is None:
        raise refuse_module(name, child, "momentum", None, "a cumulative average has no cnn equivalent")
    mean, var = array_of(child.running_mean), array_of(child.running_var)
    gamma = array_of(child.weight) if child.weight is not None else np.ones_like(mean)
    beta = array_of(child.bias) if child.bias is not None else np.zeros_like(mean)
    layer = BatchNormalization(gamma, beta, momentum=1 - child.momentum, eps=child.eps)
    layer.buffers[0][...] = mean
    layer.buffers[1][...] = var
    return layer
