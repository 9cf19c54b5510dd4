"""Converters of Residual: to ONNX its two branches and an Add, to PyTorch the module of
:func:`~cnn.interop.torch_exchange.residual_block_class`. Reading them back is the graph
readers' (an Add joining two branches in ONNX; that module in PyTorch)."""

from __future__ import annotations

from cnn.interop.registry import exports_to_onnx, exports_to_torch
from cnn.interop.torch_exchange import residual_block_class
from cnn.layers import Residual


@exports_to_onnx(Residual)
def to_onnx(layer, writer) -> None:
    prefix, where, start = writer.prefix, writer.where, writer.current
    for index, inner in enumerate(layer.body):
        writer.write(inner, f"{prefix}.body.{index}", f"{where} body[{index}]")
    body = writer.current
    writer.current = start
    for index, inner in enumerate(layer.shortcut or []):
        writer.write(inner, f"{prefix}.shortcut.{index}", f"{where} shortcut[{index}]")
    writer.emit("Add", [body, writer.current], prefix)


@exports_to_torch(Residual)
def to_torch(layer, writer) -> list:
    nn = writer.nn
    body = nn.Sequential(*[module for position, inner in enumerate(layer.body)
                           for module in writer.convert(inner, f"{writer.where} body[{position}]")])
    shortcut = None if layer.shortcut is None else nn.Sequential(*[
        module for position, inner in enumerate(layer.shortcut)
        for module in writer.convert(inner, f"{writer.where} shortcut[{position}]")])
    return [residual_block_class(nn)(body, shortcut)]
