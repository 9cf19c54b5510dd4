"""Converters of max and average pooling: ONNX's MaxPool and AveragePool, PyTorch's MaxPool2d
and AvgPool2d."""

from __future__ import annotations

from cnn.interop.onnx_nodes import build, refusal, window_pads
from cnn.interop.registry import exports_to_onnx, exports_to_torch, imports_from_onnx, imports_from_torch
from cnn.interop.torch_exchange import refuse_module
from cnn.layers import AvgPooling, Pooling
from cnn_ext.geometry import pair, pool_strides, reach


@exports_to_onnx(Pooling, AvgPooling)
def to_onnx(layer, writer) -> None:
    (top, bottom), (left, right) = layer.pads
    window = dict(kernel_shape=[layer.pool_h, layer.pool_w], strides=list(layer.strides),
                  pads=[top, left, bottom, right], ceil_mode=int(layer.ceil_mode))
    if isinstance(layer, Pooling):
        writer.emit("MaxPool", [writer.current], dilations=list(layer.dilations), **window)
    elif layer.dilations != (1, 1):
        if writer.opset < 19:
            raise writer.refuse(f"a dilated AveragePool needs opset 19 or later, got "
                                f"opset={writer.opset}")
        writer.emit("AveragePool", [writer.current], **window, dilations=list(layer.dilations),
                    count_include_pad=int(layer.count_include_pad))
    else:
        writer.emit("AveragePool", [writer.current], **window,
                    count_include_pad=int(layer.count_include_pad))


@imports_from_onnx("MaxPool", "AveragePool")
def from_onnx(node, reader):
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
    pads = window_pads(node, spans, strides, reader.spatial)
    if node.op == "MaxPool":
        return build(node, Pooling, pool_h, pool_w, tuple(strides), pads, ceil_mode=bool(ceil_mode),
                     dilation=tuple(dilations)), 1
    count_include_pad = node.integer("count_include_pad", 0)
    if count_include_pad not in (0, 1):
        raise node.refuse("count_include_pad", count_include_pad, "0 or 1 is expected")
    return build(node, AvgPooling, pool_h, pool_w, tuple(strides), pads, ceil_mode=bool(ceil_mode),
                 count_include_pad=bool(count_include_pad), dilation=tuple(dilations)), 1


@exports_to_torch(Pooling, AvgPooling)
def to_torch(layer, writer) -> list:
    (top, bottom), (left, right) = layer.pads
    if top != bottom or left != right or 2 * top > layer.pool_h or 2 * left > layer.pool_w:
        raise writer.refuse("PyTorch pools with the same padding on both sides of an axis, at "
                            "most half the window")
    window = dict(kernel_size=(layer.pool_h, layer.pool_w), stride=layer.strides,
                  padding=(top, left), ceil_mode=layer.ceil_mode)
    if isinstance(layer, Pooling):
        return [writer.nn.MaxPool2d(**window, dilation=layer.dilations)]
    if layer.dilations != (1, 1):
        raise writer.refuse("PyTorch's AvgPool2d has no dilation")
    return [writer.nn.AvgPool2d(**window, count_include_pad=layer.count_include_pad)]


@imports_from_torch("MaxPool2d", "AvgPool2d")
def from_torch(nn, name, child, padded):
    pool_h, pool_w = pair("kernel_size", child.kernel_size, 1)
    stride = pool_strides(pool_h, pool_w, child.stride or None)
    window = dict(pad=pair("padding", child.padding, 0), ceil_mode=bool(child.ceil_mode))
    if isinstance(child, nn.MaxPool2d):
        if child.return_indices:
            raise refuse_module(name, child, "return_indices", True, "a layer returns one array")
        return Pooling(pool_h, pool_w, stride, **window, dilation=pair("dilation", child.dilation, 1))
    if child.divisor_override is not None:
        raise refuse_module(name, child, "divisor_override", child.divisor_override,
                            "cnn divides by the window's count")
    return AvgPooling(pool_h, pool_w, stride, **window,
                      count_include_pad=bool(child.count_include_pad))
