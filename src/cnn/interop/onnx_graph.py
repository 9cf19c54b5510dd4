"""Walking an ONNX graph as a chain of layers (with the two branches of a residual block), and
bounding what the chain could make of a small input."""

from __future__ import annotations

import math
from typing import Optional

from cnn.interop.layout import rank_after
from cnn.interop.onnx_nodes import MAX_CHANNELS, NodeReader, build, read_node, refusal, short
from cnn.layers import Affine, AvgPooling, Convolution, Layer, Pooling, Residual
from cnn_ext.geometry import reach

__all__ = ["ChainReader", "check_growth", "input_rank", "input_shape", "MAX_IMPORT_SAMPLE_ELEMENTS",
           "MAX_GROWTH"]

#: The most elements of one sample of an imported graph's input, or of what any of its layers
#: makes of it (32 MiB of float32): an ONNX file declares no architecture to check first.
MAX_IMPORT_SAMPLE_ELEMENTS = 1 << 23
#: The most pixels the padding of all the layers together may add to an image along each axis.
MAX_GROWTH = 256


class ChainReader:
    """Reads the graph as a chain of layers from a value on, following the data: each node
    must take the chain's current value (and constants) alone, except where the value goes to
    two branches that an Add joins again, which become a :class:`~cnn.layers.Residual` (the
    branch of more layers its body, the other its shortcut, or the identity when the Add takes
    the value itself)."""

    def __init__(self, nodes: list, constants: dict, opset: int) -> None:
        self.nodes, self.constants, self.opset = nodes, constants, opset
        self.consumed: set[int] = set()

    def _data(self, node) -> list[str]:
        return [name for name in node.inputs if name and name not in self.constants]

    def _users(self, value: str) -> list[int]:
        return [index for index, node in enumerate(self.nodes)
                if index not in self.consumed and value in self._data(node)]

    def _is_join(self, node) -> bool:
        return node.op == "Add" and len(self._data(node)) == 2

    def read(self, current: str, rank, shape, until_join: bool = False,
             first: Optional[int] = None):
        """``(layers, value, rank, shape)``: the chain from ``current`` (through the node
        ``first``, where the value branches) to the graph's end, or, with ``until_join``, to the
        Add that joins it with another branch (left unread)."""
        layers: list[Layer] = []
        while True:
            users, first = (self._users(current) if first is None else [first]), None
            if not users:
                return layers, current, rank, shape
            if len(users) == 1 and self._is_join(self.nodes[users[0]]) and until_join:
                return layers, current, rank, shape
            if len(users) == 2:
                layer, current = self._residual(current, users, rank, shape)
            elif len(users) > 2:
                raise refusal(self.nodes[users[0]].label, f"the value {current!r} goes to "
                                                          f"{len(users)} nodes; only two branches "
                                                          f"joined by an Add are read")
            else:
                node = self.nodes[users[0]]
                if self._data(node) != [current]:
                    raise refusal(node.label, f"it does not continue a chain of layers (its data "
                                              f"inputs are {short(self._data(node))}, the chain "
                                              f"is at {current!r})")
                following = [self.nodes[index] for index in range(users[0] + 1, len(self.nodes))
                             if index not in self.consumed]
                layer, count = read_node(node, NodeReader(following, self.constants, self.opset,
                                                          rank, shape))
                taken = [users[0]] + [index for index in range(users[0] + 1, len(self.nodes))
                                      if index not in self.consumed][:count - 1]
                self.consumed.update(taken)
                current = self.nodes[taken[-1]].outputs[0]
            if layer is not None:
                layers.append(layer)
                rank = None if rank is None else rank_after(layer, rank)
                if shape is not None:
                    shape = _output_shape(layer, shape, f"layers[{len(layers) - 1}] ({layer!r})")

    def _residual(self, current: str, users: list[int], rank, shape) -> tuple[Layer, str]:
        """Two branches from ``current`` and the Add that joins them, as one Residual."""
        joins = [index for index in users if self._is_join(self.nodes[index])]
        branches = []
        for index in users:
            if index in joins:
                branches.append(([], current))
            else:
                layers, end, _, _ = self.read(current, rank, shape, until_join=True, first=index)
                branches.append((layers, end))
        ends = {end for _, end in branches}
        join = [index for index in self._users(next(iter(ends)))
                if self._is_join(self.nodes[index]) and set(self._data(self.nodes[index])) == ends]
        if len(ends) != 2 or not join:
            raise refusal(self.nodes[users[0]].label, f"the branches from {current!r} do not meet "
                                                      f"in one Add of the two")
        add = self.nodes[join[0]]
        if len(add.inputs) != 2:
            raise refusal(add.label, "an Add of the two branches takes nothing else")
        self.consumed.add(join[0])
        branches.sort(key=lambda branch: len(branch[0]), reverse=True)
        (body, _), (shortcut, _) = branches
        if not body:
            raise refusal(add.label, "an Add of a value and itself has no cnn layer")
        return build(add, Residual, body, shortcut or None), add.outputs[0]


def check_growth(layers: list[Layer], input_shape: Optional[tuple[int, ...]]) -> None:
    """Refuse a chain that could make a small input huge: channels and features above
    :data:`MAX_CHANNELS`, padding that adds more than :data:`MAX_GROWTH` pixels in all, and, for
    a fixed input shape, any layer's output above :data:`MAX_IMPORT_SAMPLE_ELEMENTS` per sample."""
    growth, shape = 0, input_shape
    for index, layer in enumerate(layers):
        what = f"layers[{index}] ({layer!r})"
        if isinstance(layer, (Convolution, Affine)):
            width = layer.params[0].shape[0 if isinstance(layer, Convolution) else 1]
            if width > MAX_CHANNELS:
                raise refusal(what, f"it makes {width} channels or features, more than {MAX_CHANNELS}")
        growth += _padding_growth(layer)
        if growth > MAX_GROWTH:
            raise refusal(what, f"the padding up to this layer adds {growth} pixels to each image, "
                                f"more than {MAX_GROWTH}")
        if shape is not None:
            shape = _output_shape(layer, shape, what)
            if math.prod(shape) > MAX_IMPORT_SAMPLE_ELEMENTS:
                raise refusal(what, f"it makes {short(shape)} of each sample, more than "
                                    f"{MAX_IMPORT_SAMPLE_ELEMENTS} elements")


def _padding_growth(layer: Layer) -> int:
    """How many pixels a layer's padding can add to a side of an image, at most."""
    if isinstance(layer, Convolution):
        spans = [reach(size, spread) for size, spread in zip(layer.params[0].shape[2:], layer.dilations)]
        return max(0, *(sum(sides) - span + 1 for sides, span in zip(layer.pads, spans)))
    if isinstance(layer, (Pooling, AvgPooling)):
        return max(0, *(sum(sides) - size + 1 for sides, size in
                        zip(layer.pads, (layer.pool_h, layer.pool_w))))
    return 0


def _output_shape(layer: Layer, shape: tuple[int, ...], what: str) -> tuple[int, ...]:
    """The shape of one sample after ``layer``, or a refusal when the layer cannot take it."""
    try:
        return tuple(layer.output_shape(shape))
    except ValueError as error:
        raise refusal(what, f"it does not fit the output of the layers before it: {error}") from None


def input_rank(value) -> Optional[int]:
    """The rank of the graph input, if the file says it."""
    kind = value.type.tensor_type
    return len(kind.shape.dim) if kind.HasField("shape") else None


def input_shape(value) -> Optional[tuple[int, ...]]:
    """The graph input's sizes after the batch axis, when all are fixed numbers (bounded)."""
    dims = value.type.tensor_type.shape.dim[1:]
    sizes = tuple(dim.dim_value for dim in dims)
    if not sizes or not all(size > 0 for size in sizes):
        return None
    if math.prod(sizes) > MAX_IMPORT_SAMPLE_ELEMENTS:
        raise refusal(f"the graph input {value.name!r}", f"one sample of shape {short(sizes)} "
                                                         f"holds more than {MAX_IMPORT_SAMPLE_ELEMENTS} elements")
    return sizes
