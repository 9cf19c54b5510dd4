"""Converters of ConvTranspose: ONNX's ConvTranspose (pads per side, strides, dilations, group,
output_padding) and PyTorch's ConvTranspose2d (whose padding is the same on both sides of an
axis)."""

from __future__ import annotations

import numpy as np

from cnn.interop.layout import onnx_window
from cnn.interop.onnx_nodes import build
from cnn.interop.registry import exports_to_onnx, exports_to_torch, imports_from_onnx, imports_from_torch
from cnn.interop.torch_exchange import array_of, refuse_module
from cnn.layers import ConvTranspose


@exports_to_onnx(ConvTranspose)
def to_onnx(layer, writer) -> None:
    W, b = layer.params
    writer.emit("ConvTranspose", [writer.current, writer.constant(f"{writer.prefix}.W", W),
                                  writer.constant(f"{writer.prefix}.b", b)],
                **onnx_window(layer), output_padding=list(layer.output_paddings))


@imports_from_onnx("ConvTranspose")
def from_onnx(node, reader):
    W, groups = reader.filters(node)
    for name in ("output_shape", "auto_pad"):
        if node.get(name, None) not in (None, "NOTSET"):
            raise node.refuse(name, node.get(name, None), "give the output's size by pads and "
                                                          "output_padding")
    top, left, bottom, right = node.sizes("pads", [0, 0, 0, 0], 4, 0)
    b = reader.weight(node, 2, "bias", 1) if node.has_input(2) else \
        np.zeros(W.shape[1] * groups, np.float32)
    return build(node, ConvTranspose, W, b, stride=tuple(node.sizes("strides", [1, 1], 2, 1)),
                 pad=((top, bottom), (left, right)),
                 output_padding=tuple(node.sizes("output_padding", [0, 0], 2, 0)),
                 dilation=tuple(node.sizes("dilations", [1, 1], 2, 1)), groups=groups), 1


@exports_to_torch(ConvTranspose)
def to_torch(layer, writer) -> list:
    W, b = layer.params
    (top, bottom), (left, right) = layer.pads
    if top != bottom or left != right:
        raise writer.refuse("PyTorch's ConvTranspose2d pads both sides of an axis alike")
    module = writer.nn.ConvTranspose2d(
        W.shape[0], layer.out_channels, tuple(W.shape[2:]), stride=layer.strides,
        padding=(top, left), output_padding=layer.output_paddings, groups=layer.groups,
        dilation=layer.dilations, dtype=writer.dtype(W))
    module.weight.data, module.bias.data = writer.tensor(W), writer.tensor(b)
    return [module]


@imports_from_torch("ConvTranspose2d")
def from_torch(nn, name, child, padded):
    if child.padding_mode != "zeros":
        raise refuse_module(name, child, "padding_mode", child.padding_mode, "cnn pads with zeros")
    W = array_of(child.weight)
    b = array_of(child.bias) if child.bias is not None else \
        np.zeros(W.shape[1] * child.groups, W.dtype)
    return ConvTranspose(W, b, stride=tuple(child.stride), pad=tuple(child.padding),
                         output_padding=tuple(child.output_padding),
                         dilation=tuple(child.dilation), groups=child.groups)
