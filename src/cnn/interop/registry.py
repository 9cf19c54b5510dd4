"""The converters of every layer kind, in one registry.

Each layer family has one file in :mod:`cnn.interop.converters` holding its four directions,
each registered here by a decorator:

- ``@exports_to_onnx(LayerClass)``: ``convert(layer, writer)`` emits the layer's ONNX nodes
  through an :class:`~cnn.interop.onnx_export.OnnxWriter`;
- ``@imports_from_onnx("Op", since=N)``: ``convert(node, reader) -> (layer or None, nodes
  consumed)`` for a model whose opset is N or later (the entry with the highest ``since`` at or
  below the model's opset applies), reading through a
  :class:`~cnn.interop.onnx_nodes.NodeReader`;
- ``@exports_to_torch(LayerClass)``: ``convert(layer, writer) -> [modules]`` through a
  :class:`~cnn.interop.torch_exchange.TorchWriter`;
- ``@imports_from_torch("Conv2d", ...)``: ``convert(nn, name, module, padded) -> layer or
  None``, keyed by the names of ``torch.nn`` module classes (torch is imported only when used).

Every converter of a direction has the same signature; the exporters and importers look them
up here and never test a layer's class themselves.
"""

from __future__ import annotations

from typing import Callable, Optional

__all__ = ["exports_to_onnx", "imports_from_onnx", "exports_to_torch", "imports_from_torch",
           "onnx_exporter", "onnx_importer", "torch_exporter", "torch_importer"]

_TO_ONNX: dict[type, Callable] = {}
_FROM_ONNX: dict[str, list[tuple[int, Callable]]] = {}
_TO_TORCH: dict[type, Callable] = {}
_FROM_TORCH: dict[str, Callable] = {}


def exports_to_onnx(*layer_classes: type) -> Callable:
    """Register the decorated function as the ONNX exporter of ``layer_classes``."""
    return _into(_TO_ONNX, layer_classes)


def exports_to_torch(*layer_classes: type) -> Callable:
    """Register the decorated function as the PyTorch exporter of ``layer_classes``."""
    return _into(_TO_TORCH, layer_classes)


def imports_from_torch(*module_names: str) -> Callable:
    """Register the decorated function as the importer of the ``torch.nn`` modules named."""
    return _into(_FROM_TORCH, module_names)


def imports_from_onnx(*ops: str, since: int = 1) -> Callable:
    """Register the decorated function as the importer of the ONNX operators ``ops`` for models
    of opset ``since`` or later."""
    def register(convert: Callable) -> Callable:
        for op in ops:
            entries = _FROM_ONNX.setdefault(op, [])
            if any(start == since for start, _ in entries):
                raise ValueError(f"an importer of {op} since opset {since} is registered already")
            entries.append((since, convert))
            entries.sort(key=lambda entry: entry[0])
        return convert
    return register


def _into(table: dict, keys: tuple) -> Callable:
    def register(convert: Callable) -> Callable:
        for key in keys:
            if key in table:
                raise ValueError(f"a converter of {key!r} is registered already")
            table[key] = convert
        return convert
    return register


def onnx_exporter(layer) -> Optional[Callable]:
    """The ONNX exporter of ``layer``'s class (its own, not a base class's), or None."""
    return _TO_ONNX.get(type(layer))


def torch_exporter(layer) -> Optional[Callable]:
    """The PyTorch exporter of ``layer``'s class, or None."""
    return _TO_TORCH.get(type(layer))


def onnx_importer(op: str, opset: int) -> Optional[Callable]:
    """The importer of the ONNX operator ``op`` in a model of ``opset``, or None."""
    applying = [convert for since, convert in _FROM_ONNX.get(op, []) if since <= opset]
    return applying[-1] if applying else None


def torch_importer(nn, module) -> Optional[Callable]:
    """The importer of ``module``, a ``torch.nn`` module, by its class (or a base class of it in
    ``torch.nn``, as BatchNorm2d for a subclass of it), or None."""
    for cls in type(module).__mro__:
        if getattr(nn, cls.__name__, None) is cls and cls.__name__ in _FROM_TORCH:
            return _FROM_TORCH[cls.__name__]
    return None
