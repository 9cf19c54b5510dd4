"""Converters of Dropout, the identity in inference: ONNX's Dropout and Identity, and PyTorch's
Dropout and Identity (which adds no layer)."""

from __future__ import annotations

from cnn.interop.registry import exports_to_onnx, exports_to_torch, imports_from_onnx, imports_from_torch
from cnn.layers import Dropout


@exports_to_onnx(Dropout)
def to_onnx(layer, writer) -> None:
    writer.emit("Identity", [writer.current])


@imports_from_onnx("Dropout", "Identity")
def from_onnx(node, reader):
    """No layer: an exported model runs in inference, where dropout passes its input on."""
    return None, 1


@exports_to_torch(Dropout)
def to_torch(layer, writer) -> list:
    return [writer.nn.Dropout(layer.ratio)]


@imports_from_torch("Dropout", "Identity")
def from_torch(nn, name, child, padded):
    return Dropout(child.p) if isinstance(child, nn.Dropout) else None
