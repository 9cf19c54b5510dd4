"""A Sequential written as an ONNX model: float32 batch in, the class scores of ``predict`` out."""

from __future__ import annotations

import os
from typing import Optional

import numpy as np

from cnn._checks import check_int, describe
from cnn.interop.layout import (DEFAULT_OPSET, ELEMENTWISE_OPS, GLOBAL_POOLING_OPS,
                                 OVER_CHANNELS_OPS, input_rank, rank_after)
from cnn.interop.requirements import require
from cnn.layers import (Affine, AvgPooling, BatchNormalization, Convolution, Dropout, Flatten,
                        LeakyRelu, Pooling, PRelu, Residual)
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
    nodes, initializers = [], []
    current = "x"

    def constant(name: str, array: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array, np.float32), name))
        return name

    def emit(op_type: str, inputs: list[str], name: str, **attributes) -> None:
        nonlocal current
        nodes.append(helper.make_node(op_type, inputs, [name], name=name, **attributes))
        current = name

    rank = input_rank(model)

    def write(layer, prefix: str, where: str) -> None:
        """The nodes of one layer, from ``current`` on; a Residual's branches, then an Add."""
        nonlocal current, rank
        if isinstance(layer, Residual):
            start = current
            for index, inner in enumerate(layer.body):
                write(inner, f"{prefix}.body.{index}", f"{where} body[{index}]")
            body = current
            current = start
            for index, inner in enumerate(layer.shortcut or []):
                write(inner, f"{prefix}.shortcut.{index}", f"{where} shortcut[{index}]")
            emit("Add", [body, current], prefix)
            return
        if isinstance(layer, Convolution):
            W, b = layer.params
            (top, bottom), (left, right) = layer.pads
            emit("Conv", [current, constant(f"{prefix}.W", W), constant(f"{prefix}.b", b)], prefix,
                 kernel_shape=list(W.shape[2:]), strides=list(layer.strides),
                 pads=[top, left, bottom, right], dilations=list(layer.dilations),
                 group=layer.groups)
        elif isinstance(layer, (Pooling, AvgPooling)):
            (top, bottom), (left, right) = layer.pads
            window = dict(kernel_shape=[layer.pool_h, layer.pool_w], strides=list(layer.strides),
                          pads=[top, left, bottom, right], ceil_mode=int(layer.ceil_mode))
            if isinstance(layer, Pooling):
                emit("MaxPool", [current], prefix, dilations=list(layer.dilations), **window)
            elif layer.dilations != (1, 1):
                if opset < 19:
                    raise ValueError(f"to_onnx: {where} ({layer!r}): a dilated AveragePool "
                                     f"needs opset 19 or later, got opset={opset}")
                emit("AveragePool", [current], prefix, **window, dilations=list(layer.dilations),
                     count_include_pad=int(layer.count_include_pad))
            else:
                emit("AveragePool", [current], prefix, **window,
                     count_include_pad=int(layer.count_include_pad))
        elif isinstance(layer, Flatten):
            emit("Flatten", [current], prefix, axis=1)
        elif isinstance(layer, Affine):
            if rank > 2:  # Affine flattens an image batch itself; Gemm needs the flat rows
                emit("Flatten", [current], f"{prefix}.flatten", axis=1)
            W, b = layer.params
            emit("Gemm", [current, constant(f"{prefix}.W", W), constant(f"{prefix}.b", b)], prefix)
        elif type(layer) in ELEMENTWISE_OPS:
            emit(ELEMENTWISE_OPS[type(layer)], [current], prefix)
        elif isinstance(layer, LeakyRelu):
            emit("LeakyRelu", [current], prefix, alpha=layer.alpha)
        elif isinstance(layer, PRelu):
            alpha = layer.params[0]
            # ONNX broadcasts the slope from the last axis: per channel of images is (C, 1, 1).
            slope = alpha.reshape((-1,) + (1,) * (rank - 2)) if alpha.shape[0] > 1 else alpha
            emit("PRelu", [current, constant(f"{prefix}.alpha", slope)], prefix)
        elif type(layer) in OVER_CHANNELS_OPS:
            emit(OVER_CHANNELS_OPS[type(layer)], [current], prefix, axis=1)
        elif type(layer) in GLOBAL_POOLING_OPS:
            emit(GLOBAL_POOLING_OPS[type(layer)], [current], f"{prefix}.pool")
            emit("Flatten", [current], prefix, axis=1)
        elif isinstance(layer, Dropout):
            emit("Identity", [current], prefix)
        elif isinstance(layer, BatchNormalization):
            gamma, beta = layer.params
            running_mean, running_var = layer.buffers
            emit("BatchNormalization",
                 [current, constant(f"{prefix}.gamma", gamma), constant(f"{prefix}.beta", beta),
                  constant(f"{prefix}.running_mean", running_mean),
                  constant(f"{prefix}.running_var", running_var)],
                 prefix, epsilon=layer.eps, momentum=layer.momentum)
        else:
            raise ValueError(f"to_onnx: {where} ({layer!r}) has no ONNX equivalent here; "
                             f"the layers of cnn.layers can be exported")
        rank = rank_after(layer, rank)

    for index, layer in enumerate(model.layers):
        write(layer, f"layers.{index}", f"layers[{index}]")
    nodes[-1].output[0] = "scores"
    graph = helper.make_graph(
        nodes, "cnn-ext",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"] + _sample_shape(model))],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", None])],
        initializer=initializers)
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                   producer_name="cnn-ext")
    onnx.checker.check_model(onnx_model, full_check=True)
    onnx.save(onnx_model, os.fspath(path))


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
