"""A Sequential written as an ONNX model: float32 batch in, the class scores of ``predict`` out."""

from __future__ import annotations

import os
from typing import Optional

import numpy as np

from cnn._checks import check_int, describe
from cnn.interop.layout import DEFAULT_OPSET, input_rank, rank_after
from cnn.interop.registry import onnx_exporter
from cnn.interop.requirements import require
from cnn.layers import Affine, Convolution
from cnn.models.sequential import Sequential

__all__ = ["to_onnx"]



def to_onnx(model: Sequential, path: str | os.PathLike, opset: Optional[int] = None) -> None:
    """Write ``model`` as an ONNX file that maps a float32 batch to the scores ``model.predict`` gives.

    The input ``x`` is (N, C, H, W), or (N, D) for a model that starts with ``Affine``, with the
    batch axis N dynamic; the output is ``scores`` (N, classes). Layers are written in inference
    mode: Dropout as Identity, BatchNormalization with its running statistics. Weights are
    written as float32. The file passes ``onnx.checker.check_model(..., full_check=True)``.

    Args:
        model: a :class:`~cnn.models.Sequential` of the layers of :mod:`cnn.layers`.
        path: the file to write.
        opset: the ONNX opset (default 17).

    Raises:
        ValueError: naming a layer ONNX cannot express here (a layer of your own).
        ImportError: without ``onnx`` (``pip install "cnn-ext[onnx]"``).

    Example:
        >>> from cnn.models import LeNet
        >>> to_onnx(LeNet(seed=0), "lenet.onnx")  # doctest: +SKIP
    """
    onnx = require("onnx")
    from onnx import TensorProto, helper, numpy_helper

    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a cnn.models.Sequential, got {describe(model)}")
    opset = DEFAULT_OPSET if opset is None else check_int("opset", opset, 13)
    writer = OnnxWriter(helper, numpy_helper, opset, input_rank(model))
    for index, layer in enumerate(model.layers):
        writer.write(layer, f"layers.{index}", f"layers[{index}]")
    writer.nodes[-1].output[0] = "scores"
    graph = helper.make_graph(
        writer.nodes, "cnn-ext",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"] + _sample_shape(model))],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", None])],
        initializer=writer.initializers)
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                   producer_name="cnn-ext")
    onnx.checker.check_model(onnx_model, full_check=True)
    onnx.save(onnx_model, os.fspath(path))


class OnnxWriter:
    """The graph being written: its nodes and initializers, the value the chain is at
    (``current``) and its rank, and the layer being written (``prefix`` names its nodes,
    ``where`` it in messages). Each layer's converter (:mod:`cnn.interop.registry`) writes
    through it."""

    def __init__(self, helper, numpy_helper, opset: int, rank: int) -> None:
        self.helper, self.numpy_helper, self.opset, self.rank = helper, numpy_helper, opset, rank
        self.nodes: list = []
        self.initializers: list = []
        self.current = "x"
        self.prefix = self.where = ""
        self.layer = None

    def constant(self, name: str, array: np.ndarray) -> str:
        """Add ``array`` as a float32 initializer called ``name``; returns the name."""
        self.initializers.append(self.numpy_helper.from_array(
            np.ascontiguousarray(array, np.float32), name))
        return name

    def emit(self, op_type: str, inputs: list[str], name: Optional[str] = None, **attributes) -> None:
        """Add a node (named ``name``, by default the layer's ``prefix``), which the chain then
        continues from."""
        name = self.prefix if name is None else name
        self.nodes.append(self.helper.make_node(op_type, inputs, [name], name=name, **attributes))
        self.current = name

    def refuse(self, reason: str) -> ValueError:
        return ValueError(f"to_onnx: {self.where} ({self.layer!r}): {reason}")

    def write(self, layer, prefix: str, where: str) -> None:
        """The nodes of ``layer``, from ``current`` on, by its registered converter."""
        convert = onnx_exporter(layer)
        if convert is None:
            raise ValueError(f"to_onnx: {where} ({layer!r}) has no ONNX equivalent here; "
                             f"the layers of cnn.layers can be exported")
        outer = self.prefix, self.where, self.layer
        self.prefix, self.where, self.layer = prefix, where, layer
        convert(layer, self)
        self.prefix, self.where, self.layer = outer
        self.rank = rank_after(layer, self.rank)


def _sample_shape(model: Sequential) -> list:
    """One sample's shape for the graph's input: known sizes, names for the unknown ones."""
    if model.input_shape is not None:
        return list(model.input_shape)
    first = model.layers[0]
    if isinstance(first, Affine):
        return [first.params[0].shape[0]]
    if isinstance(first, Convolution):
        return [first.in_channels, "H", "W"]
    return ["C", "H", "W"]
