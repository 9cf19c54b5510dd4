"""Converters of the global poolings, which give (N, C): ONNX's GlobalAveragePool and
GlobalMaxPool followed by a Flatten, PyTorch's AdaptiveAvgPool2d(1) and AdaptiveMaxPool2d(1)
followed by a Flatten."""

from __future__ import annotations

from cnn.interop.layout import GLOBAL_POOLING_OPS, layer_of
from cnn.interop.onnx_nodes import build, read_node, refusal
from cnn.interop.registry import exports_to_onnx, exports_to_torch, imports_from_onnx, imports_from_torch
from cnn.interop.torch_exchange import refuse_module
from cnn.layers import Flatten, GlobalAveragePooling, GlobalMaxPooling

GLOBAL_POOLINGS = layer_of(GLOBAL_POOLING_OPS)


@exports_to_onnx(*GLOBAL_POOLING_OPS)
def to_onnx(layer, writer) -> None:
    writer.emit(GLOBAL_POOLING_OPS[type(layer)], [writer.current], f"{writer.prefix}.pool")
    writer.emit("Flatten", [writer.current], axis=1)


@imports_from_onnx(*GLOBAL_POOLING_OPS.values())
def from_onnx(node, reader):
    """A global pooling and the Flatten (or Reshape to (N, -1)) after it, which its (N, C)
    output makes an identity; it must end the image layers."""
    layer = build(node, GLOBAL_POOLINGS[node.op])
    if not reader.following:
        return layer, 1
    after = reader.following[0]
    if after.op in ("Flatten", "Reshape") and after.inputs[:1] == node.outputs[:1]:
        flattening, _ = read_node(after, reader.next_reader())
        return layer, 2 if isinstance(flattening, Flatten) else 1
    raise refusal(node.label, f"its (N, C, 1, 1) output goes on to {after.label}; cnn's global "
                              f"pooling gives (N, C) and must be followed by Flatten")


@exports_to_torch(*GLOBAL_POOLING_OPS)
def to_torch(layer, writer) -> list:
    nn = writer.nn
    pool = nn.AdaptiveAvgPool2d if isinstance(layer, GlobalAveragePooling) else nn.AdaptiveMaxPool2d
    return [pool(1), nn.Flatten()]


@imports_from_torch("AdaptiveAvgPool2d", "AdaptiveMaxPool2d")
def from_torch(nn, name, child, padded):
    """The Flatten after it is dropped by the reader: cnn's global pooling gives (N, C)."""
    if child.output_size not in (1, (1, 1), [1, 1]):
        raise refuse_module(name, child, "output_size", child.output_size,
                            "only a pooling to 1x1 (global pooling) maps")
    if isinstance(child, nn.AdaptiveMaxPool2d) and child.return_indices:
        raise refuse_module(name, child, "return_indices", True, "a layer returns one array")
    return GlobalAveragePooling() if isinstance(child, nn.AdaptiveAvgPool2d) else GlobalMaxPooling()
