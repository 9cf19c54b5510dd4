"""Reading an ONNX model of a chain of layers as a Sequential: :func:`from_onnx`. The file is
loaded and bounded by :mod:`cnn.interop.onnx_file`, walked by :mod:`cnn.interop.onnx_graph`, and
each node mapped by the converter :mod:`cnn.interop.registry` holds for its operator and opset
(:mod:`cnn.interop.onnx_nodes`)."""

from __future__ import annotations

import os

from cnn.interop.layout import DEFAULT_OPSET
from cnn.interop.onnx_file import (MAX_TENSOR_ELEMENTS, constant_value, load, tensor_array,
                                   transposed)
from cnn.interop.onnx_graph import (MAX_GROWTH, MAX_IMPORT_SAMPLE_ELEMENTS, ChainReader,
                                    check_growth, input_rank, input_shape)
from cnn.interop.onnx_nodes import MAX_CHANNELS, MAX_WINDOW, Node, refusal
from cnn.interop.requirements import require
from cnn.models.sequential import Sequential

__all__ = ["from_onnx", "MAX_WINDOW", "MAX_TENSOR_ELEMENTS", "MAX_IMPORT_SAMPLE_ELEMENTS",
           "MAX_CHANNELS", "MAX_GROWTH"]


def from_onnx(path: str | os.PathLike) -> Sequential:
    """Read an ONNX model of a plain chain of layers as a :class:`~cnn.models.Sequential`.

    Reads the files :func:`~cnn.interop.to_onnx` writes and the common ONNX that other tools
    write for such networks (PyTorch's ``torch.onnx.export`` of a LeNet): Conv (with groups,
    dilations, pads per side, ``auto_pad`` SAME at stride 1), Relu, LeakyRelu, PRelu, MaxPool,
    AveragePool, GlobalAveragePool and GlobalMaxPool (then Flatten), Flatten or Reshape to
    (N, -1), Gemm or MatMul followed by Add (a Transpose of a constant weight folded into it),
    BatchNormalization, Sigmoid, Tanh, Softmax and
    LogSoftmax over axis 1, Dropout and Identity. The weights become float32 layers, the loss
    :class:`~cnn.losses.SoftmaxWithLoss`, and ``input_shape`` the graph input's fixed sizes. A
    graph that ends in Softmax gives a model whose ``predict`` returns probabilities.

    The file must hold all its tensors (external data files are refused), and sizes are
    bounded: kernels, strides and pads up to :data:`MAX_WINDOW` (a pad at most the kernel),
    tensors up to :data:`MAX_TENSOR_ELEMENTS` elements, channels and features up to
    :data:`MAX_CHANNELS`, the padding of all layers together up to :data:`MAX_GROWTH` pixels, and
    one sample of the input, or of any layer's output for a fixed input shape, up to
    :data:`MAX_IMPORT_SAMPLE_ELEMENTS`.

    Raises:
        ValueError: starting with ``from_onnx:`` and naming the node and the attribute (or
            operator, or tensor) that cannot be mapped or is out of bounds: ceil_mode, a pooling
            padded unevenly, SAME padding with a stride, a softmax over another axis, a graph
            that is not a chain, an operator of another kind, external data, a damaged file.
        FileNotFoundError: no file at ``path``.
        ImportError: without ``onnx`` (``pip install "cnn-ext[onnx]"``).
    """
    onnx = require("onnx")
    from onnx import helper, numpy_helper

    model = load(onnx, path)
    graph = model.graph
    opset = next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")),
                 DEFAULT_OPSET)
    if len(graph.sparse_initializer):
        raise refusal("the graph", "sparse initializers are not read")
    constants = {}
    for tensor in graph.initializer:
        constants[tensor.name] = tensor_array(onnx, numpy_helper, tensor, f"initializer {tensor.name!r}")
    inputs = [value for value in graph.input if value.name not in constants]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise refusal("the graph", f"it must have one data input and one output, got "
                                   f"{len(inputs)} inputs and {len(graph.output)} outputs")
    nodes = []
    for index, node in enumerate(graph.node):
        wrapped = Node(node, index, helper)
        if wrapped.op == "Constant":
            constants[wrapped.outputs[0]] = constant_value(onnx, numpy_helper, wrapped)
        elif wrapped.op == "Transpose" and wrapped.inputs[:1] and wrapped.inputs[0] in constants:
            constants[wrapped.outputs[0]] = transposed(wrapped, constants[wrapped.inputs[0]])
        else:
            nodes.append(wrapped)

    rank = input_rank(inputs[0])
    sample_shape = input_shape(inputs[0])
    reader = ChainReader(nodes, constants, opset)
    layers, current, _, _ = reader.read(inputs[0].name, rank, sample_shape)
    if current != graph.output[0].name:
        raise refusal("the graph", f"the chain ends at {current!r}, not at the graph output "
                                   f"{graph.output[0].name!r}")
    if not layers:
        raise refusal("the graph", "it holds no layer")
    check_growth(layers, sample_shape)
    return Sequential(layers, input_shape=sample_shape)
