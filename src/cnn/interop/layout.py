"""What the converters share: the ONNX opset written by default, the tables of layers that map
to one ONNX operator each (read one way by the exporter, the other by the importer), and the
rank of the data flowing between layers."""

from __future__ import annotations

from cnn.layers import (Affine, GlobalAveragePooling, GlobalMaxPooling, LogSoftmax, Relu, Sigmoid,
                        Softmax, Tanh)

#: The opset written by default, and the one a file that imports none is read as: 17 (2022),
#: read by every maintained ONNX runtime and holding every operator used here.
DEFAULT_OPSET = 17
#: Layers applied to each value, and the ONNX operator of each.
ELEMENTWISE_OPS = {Relu: "Relu", Sigmoid: "Sigmoid", Tanh: "Tanh"}
#: Layers applied over axis 1 (the channels), and their operators.
OVER_CHANNELS_OPS = {Softmax: "Softmax", LogSoftmax: "LogSoftmax"}
#: The global poolings, and their operators (a Flatten follows each in ONNX).
GLOBAL_POOLING_OPS = {GlobalAveragePooling: "GlobalAveragePool", GlobalMaxPooling: "GlobalMaxPool"}


def onnx_window(layer) -> dict:
    """The ONNX attributes of a convolution's or transposed convolution's window:
    ``kernel_shape``, ``strides``, ``pads`` (ONNX's order: the begins, then the ends),
    ``dilations`` and ``group``."""
    (top, bottom), (left, right) = layer.pads
    return dict(kernel_shape=list(layer.params[0].shape[2:]), strides=list(layer.strides),
                pads=[top, left, bottom, right], dilations=list(layer.dilations),
                group=layer.groups)


def layer_of(table: dict) -> dict:
    """A table read the other way: the layer class of each ONNX operator."""
    return {op: layer for layer, op in table.items()}


def input_rank(model) -> int:
    """4 for images (N, C, H, W), 2 for vectors (N, D): what the model's first layer takes."""
    if model.input_shape is not None:
        return 1 + len(model.input_shape)
    return 2 if isinstance(model.layers[0], Affine) else 4


def rank_after(layer, rank: int) -> int:
    """The rank of a layer's output for an input of ``rank``: a layer that ``flattens`` (Flatten,
    Affine, global pooling) gives vectors."""
    return 2 if layer.flattens else rank
