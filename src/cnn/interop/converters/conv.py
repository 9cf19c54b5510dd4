"""Converters of Convolution: ONNX's Conv (and a Pad of zeros before one, taken into its
padding) and PyTorch's Conv2d (and a ZeroPad2d before one, the same way; padding that differs
between the two sides of an axis is written as a ZeroPad2d)."""

from __future__ import annotations

from typing import Optional

import numpy as np

from cnn.interop.layout import onnx_window
from cnn.interop.onnx_nodes import MAX_WINDOW, build, refusal, short, window_pads
from cnn.interop.registry import exports_to_onnx, exports_to_torch, imports_from_onnx, imports_from_torch
from cnn.interop.torch_exchange import array_of, refuse_module
from cnn.layers import Convolution
from cnn_ext.geometry import reach, side_pads

Sides = tuple[tuple[int, int], tuple[int, int]]


@exports_to_onnx(Convolution)
def to_onnx(layer, writer) -> None:
    W, b = layer.params
    writer.emit("Conv", [writer.current, writer.constant(f"{writer.prefix}.W", W),
                         writer.constant(f"{writer.prefix}.b", b)], **onnx_window(layer))


@imports_from_onnx("Conv")
def from_onnx(node, reader):
    return _convolution(node, reader, reader.spatial), 1


def _convolution(node, reader, spatial: Optional[tuple[int, int]],
                 extra: Sides = ((0, 0), (0, 0))) -> Convolution:
    """A Conv; ``spatial``: the input's (H, W) if known, for SAME padding with a stride;
    ``extra``: the padding of a Pad node before it, added to its own."""
    W, groups = reader.filters(node)
    kernel = list(W.shape[2:])
    strides = node.sizes("strides", [1, 1], 2, 1)
    dilations = node.sizes("dilations", [1, 1], 2, 1)
    spans = [reach(size, spread) for size, spread in zip(kernel, dilations)]
    b = reader.weight(node, 2, "bias", 1) if node.has_input(2) else np.zeros(W.shape[0], np.float32)
    if extra != ((0, 0), (0, 0)):
        spatial = None if spatial is None else tuple(
            size + sum(sides) for size, sides in zip(spatial, extra))
    pads = side_pads(window_pads(node, spans, strides, spatial))
    pads = tuple((before + more_before, after + more_after) for (before, after), (more_before, more_after)
                 in zip(pads, extra))
    return build(node, Convolution, W, b, stride=tuple(strides), pad=pads,
                 dilation=tuple(dilations), groups=groups)


@imports_from_onnx("Pad", since=1)
def padded_from_onnx_before_11(node, reader):
    """Before opset 11 a Pad's pads and value are attributes."""
    return _padded_convolution(node, reader, lambda: (node.get("pads", None), node.get("value", 0.0)))


@imports_from_onnx("Pad", since=11)
def padded_from_onnx(node, reader):
    """From opset 11 a Pad's pads and value are inputs (constants here)."""
    def pads_and_value():
        if node.has_input(3):
            raise refusal(node.label, "a Pad with axes is not read")
        pads = reader.constants.get(node.inputs[1]) if len(node.inputs) > 1 else None
        return pads, reader.constants.get(node.inputs[2]) if node.has_input(2) else None
    return _padded_convolution(node, reader, pads_and_value)


def _padded_convolution(node, reader, pads_and_value) -> tuple[Convolution, int]:
    """A Pad of zeros on the image axes followed by a Conv: one convolution padding both.
    ``pads_and_value()`` reads the Pad's padding and fill value as its opset places them."""
    following = reader.following
    if not following or following[0].op != "Conv" or following[0].inputs[:1] != node.outputs[:1]:
        raise refusal(node.label, "a Pad maps only when a Conv follows it, as that convolution's "
                                  "padding")
    mode = node.get("mode", "constant")
    if mode != "constant":
        raise node.refuse("mode", mode, "cnn pads with zeros")
    pads, value = pads_and_value()
    if value is not None and np.any(np.asarray(value) != 0):
        raise refusal(node.label, f"it pads with {short(np.asarray(value).tolist())}; cnn pads with zeros")
    pads = None if pads is None else np.asarray(pads)
    if pads is None or pads.shape != (8,) or pads.dtype.kind not in "iu" or np.any(pads < 0) \
            or np.any(pads > MAX_WINDOW) or np.any(pads[[0, 1, 4, 5]] != 0):
        raise refusal(node.label, f"only a constant Pad of 0 to {MAX_WINDOW} rows and columns on "
                                  f"the image axes maps, got pads "
                                  f"{None if pads is None else short(pads.tolist())}")
    top, left, bottom, right = (int(pads[index]) for index in (2, 3, 6, 7))
    return _convolution(following[0], reader, reader.spatial, ((top, bottom), (left, right))), 2


@exports_to_torch(Convolution)
def to_torch(layer, writer) -> list:
    nn, modules = writer.nn, []
    W, b = layer.params
    (top, bottom), (left, right) = layer.pads
    padding = (top, left)
    if top != bottom or left != right:
        modules.append(nn.ZeroPad2d((left, right, top, bottom)))
        padding = 0
    module = nn.Conv2d(layer.in_channels, W.shape[0], tuple(W.shape[2:]), stride=layer.strides,
                       padding=padding, dilation=layer.dilations, groups=layer.groups,
                       dtype=writer.dtype(W))
    module.weight.data, module.bias.data = writer.tensor(W), writer.tensor(b)
    return modules + [module]


@imports_from_torch("Conv2d")
def from_torch(nn, name, child, padded):
    """``padded``: the (left, right, top, bottom) of a ZeroPad2d just before it, if any."""
    if child.padding_mode != "zeros":
        raise refuse_module(name, child, "padding_mode", child.padding_mode, "cnn pads with zeros")
    W = array_of(child.weight)
    b = array_of(child.bias) if child.bias is not None else np.zeros(W.shape[0], W.dtype)
    pad = child.padding if isinstance(child.padding, str) else tuple(child.padding)
    if padded is not None:
        if isinstance(pad, str) or pad != (0, 0):
            raise refuse_module(name, child, "padding", child.padding,
                                "a ZeroPad2d before it pads already")
        left, right, top, bottom = padded
        pad = ((top, bottom), (left, right))
    elif pad == "valid":
        pad = 0
    return Convolution(W, b, stride=tuple(child.stride), pad=pad,
                       dilation=tuple(child.dilation), groups=child.groups)
