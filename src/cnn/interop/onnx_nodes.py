"""Mapping one ONNX node to a layer: the node's attributes read and bounded, the context a
converter reads it in (:class:`NodeReader`), and the dispatch to the converter the registry
holds for its operator and the model's opset."""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import numpy as np

from cnn.interop.registry import onnx_importer
from cnn.layers import Layer

__all__ = ["Node", "NodeReader", "read_node", "build", "window_pads", "refusal", "short",
           "MAX_WINDOW", "MAX_CHANNELS"]

#: The largest kernel size, stride or padding read from a file.
MAX_WINDOW = 255
#: The most channels a convolution makes, and features an affine layer makes.
MAX_CHANNELS = 1 << 16


def refusal(what: str, reason: str) -> ValueError:
    """The error of a file ``from_onnx`` cannot read: ``from_onnx: WHAT: REASON``."""
    return ValueError(f"from_onnx: {what}: {reason}")


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Node:
    """One ONNX node with its attributes as Python values, and a name for messages."""

    def __init__(self, node, index: int, helper) -> None:
        self.op = node.op_type
        self.inputs = list(node.input)
        self.outputs = list(node.output)
        self.label = f"node {index} ({node.op_type}{' ' + repr(node.name) if node.name else ''})"
        if not self.outputs or not self.outputs[0]:
            raise refusal(self.label, "it has no output")
        self.attributes = {}
        for attribute in node.attribute:
            try:
                self.attributes[attribute.name] = helper.get_attribute_value(attribute)
            except (ValueError, TypeError) as error:
                raise refusal(self.label, f"attribute {attribute.name!r} cannot be read "
                                          f"({error})") from None

    def refuse(self, attribute: str, value: Any, reason: str) -> ValueError:
        return refusal(self.label, f"attribute {attribute}={short(value)} cannot be mapped: {reason}")

    def refuse_missing(self, name: str) -> ValueError:
        return refusal(self.label, f"the attribute {name} is required")

    def get(self, name: str, default: Any) -> Any:
        value = self.attributes.get(name, default)
        return value.decode(errors="replace") if isinstance(value, bytes) else value

    def integer(self, name: str, default: int) -> int:
        value = self.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.refuse(name, value, "an integer is expected")
        return value

    def number(self, name: str, default: float) -> float:
        value = self.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.refuse(name, value, "a finite number is expected")
        return float(value)

    def sizes(self, name: str, default: Optional[list], count: int, low: int) -> list[int]:
        """``count`` integers from ``low`` to :data:`MAX_WINDOW` (kernel sizes, strides, pads)."""
        values = self.get(name, default)
        if values is None:
            raise self.refuse_missing(name)
        values = list(values) if isinstance(values, (list, tuple)) else values
        if not isinstance(values, list) or len(values) != count or not all(
                isinstance(value, int) and low <= value <= MAX_WINDOW for value in values):
            raise self.refuse(name, values, f"{count} integers from {low} to {MAX_WINDOW} are expected")
        return values

    def has_input(self, position: int) -> bool:
        """Whether the optional input at ``position`` is given."""
        return len(self.inputs) > position and bool(self.inputs[position])


class NodeReader:
    """What a converter reads a node in: the graph's ``constants``, the nodes ``following`` it
    (a converter may consume some, as a MatMul its Add), the model's ``opset``, and the rank
    and one sample's shape of the node's input (None where unknown)."""

    def __init__(self, following: list, constants: dict, opset: int, rank: Optional[int],
                 shape: Optional[tuple[int, ...]]) -> None:
        self.following, self.constants, self.opset = following, constants, opset
        self.rank, self.shape = rank, shape

    @property
    def spatial(self) -> Optional[tuple[int, int]]:
        """The input's (H, W), if it is a known image."""
        return self.shape[1:] if self.shape is not None and len(self.shape) == 3 else None

    def weight(self, node: Node, position: int, what: str, ndim: int) -> np.ndarray:
        """The constant input at ``position`` as a non-empty float32 array of ``ndim`` axes."""
        if len(node.inputs) <= position or node.inputs[position] not in self.constants:
            raise refusal(node.label, f"its {what} must be a constant of the graph")
        value = self.constants[node.inputs[position]]
        if value.ndim != ndim or value.size == 0:
            raise refusal(node.label, f"its {what} must be a non-empty {ndim}-D tensor, got shape "
                                      f"{short(value.shape)}")
        return np.ascontiguousarray(value, dtype=np.float32)

    def filters(self, node: Node) -> tuple[np.ndarray, int]:
        """A Conv's or ConvTranspose's filters (the constant 4-D input 1, matching
        ``kernel_shape``, each side at most :data:`MAX_WINDOW`) and its ``group`` count."""
        W = self.weight(node, 1, "weight", 4)
        kernel = list(W.shape[2:])
        if node.sizes("kernel_shape", kernel, 2, 1) != kernel:
            raise node.refuse("kernel_shape", node.get("kernel_shape", None),
                              f"the weight's filters are {kernel[0]}x{kernel[1]}")
        if max(kernel) > MAX_WINDOW:
            raise refusal(node.label, f"its {kernel[0]}x{kernel[1]} filters are larger than "
                                      f"{MAX_WINDOW}x{MAX_WINDOW}")
        groups = node.integer("group", 1)
        if not 1 <= groups <= MAX_CHANNELS:
            raise node.refuse("group", groups, f"from 1 to {MAX_CHANNELS} groups are expected")
        return W, groups

    def next_reader(self) -> "NodeReader":
        """The reader of the node after this one (its input's shape unknown here)."""
        return NodeReader(self.following[1:], self.constants, self.opset, None, None)


def build(node: Node, make: Callable[..., Layer], *args, **kwargs) -> Layer:
    """``make(*args, **kwargs)``, its refusal of the values read turned into one naming ``node``."""
    try:
        return make(*args, **kwargs)
    except (ValueError, TypeError) as error:
        raise refusal(node.label, str(error)) from None


def read_node(node: Node, reader: NodeReader) -> tuple[Optional[Layer], int]:
    """The layer for ``node`` (None for an identity) and how many nodes it consumed, by the
    converter registered for its operator at the model's opset."""
    convert = onnx_importer(node.op, reader.opset)
    if convert is None:
        raise refusal(node.label, f"the operator {node.op[:60]} has no cnn layer")
    return convert(node, reader)


def window_pads(node: Node, spans: list[int], strides: list[int],
                spatial: Optional[tuple[int, int]] = None):
    """A window's ``((top, bottom), (left, right))`` from ``pads`` or ``auto_pad``
    (``SAME_UPPER``/``SAME_LOWER``, ``VALID``), each side at most the window's span
    (dilated size). SAME with a stride needs the input's ``spatial`` size."""
    auto_pad = node.get("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        if strides == [1, 1]:
            totals = [size - 1 for size in spans]
        elif spatial is not None:  # out = ceil(in / stride), as ONNX defines SAME
            totals = [max(0, (-(-size // step) - 1) * step + window - size)
                      for size, step, window in zip(spatial, strides, spans)]
        else:
            raise node.refuse("auto_pad", auto_pad, "SAME padding with a stride depends on the "
                                                    "input size, which the graph input does not fix")
        first = [total // 2 if auto_pad == "SAME_UPPER" else total - total // 2 for total in totals]
        return tuple((before, total - before) for before, total in zip(first, totals))
    if auto_pad == "VALID":
        return 0
    if auto_pad != "NOTSET":
        raise node.refuse("auto_pad", auto_pad, "NOTSET, SAME_UPPER, SAME_LOWER or VALID is expected")
    top, left, bottom, right = node.sizes("pads", [0, 0, 0, 0], 4, 0)
    if max(top, bottom) > spans[0] or max(left, right) > spans[1]:
        raise node.refuse("pads", [top, left, bottom, right],
                          f"padding wider than the {spans[0]}x{spans[1]} window only adds borders")
    return (top, bottom), (left, right)
