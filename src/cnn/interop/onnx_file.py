"""Reading an ONNX file, bounded: the model without external data, and its tensors checked to
be self-contained numbers of a bounded size before they become arrays."""

from __future__ import annotations

import math
import os

import numpy as np

from cnn.interop.onnx_nodes import Node, refusal, short

__all__ = ["load", "tensor_array", "constant_value", "transposed", "MAX_TENSOR_ELEMENTS",
           "MAX_FILE_BYTES"]

#: The most elements of one tensor (weights, constants) read from a file: 256 MiB of float32.
MAX_TENSOR_ELEMENTS = 1 << 26
#: The largest file read; a protocol buffer cannot be larger anyway.
MAX_FILE_BYTES = 2 << 30


def load(onnx, path: str | os.PathLike):
    """The model in ``path``, with no external data loaded; a damaged file is refused."""
    from google.protobuf.message import DecodeError

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"from_onnx: no file at {path!r}")
    if os.path.getsize(path) > MAX_FILE_BYTES:
        raise refusal(repr(path), f"the file holds more than {MAX_FILE_BYTES} bytes")
    try:
        return onnx.load(path, load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, UnicodeDecodeError) as error:
        raise refusal(repr(path), f"not a readable ONNX model ({str(error)[:120]})") from None


# The tensor element types read, as NumPy would hold them.
NUMERIC_TYPES = {"FLOAT", "DOUBLE", "FLOAT16", "BFLOAT16", "INT8", "INT16", "INT32", "INT64",
                 "UINT8", "UINT16", "UINT32", "UINT64", "BOOL"}


def tensor_array(onnx, numpy_helper, tensor, what: str) -> np.ndarray:
    """A tensor of the file as an array, after checking that it is self-contained and bounded."""
    if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
        raise refusal(what, "its data lies in an external file; only self-contained models are "
                            "read (save the model with its tensors inside)")
    type_name = onnx.TensorProto.DataType.Name(tensor.data_type) \
        if tensor.data_type in onnx.TensorProto.DataType.values() else str(tensor.data_type)
    if type_name not in NUMERIC_TYPES:
        raise refusal(what, f"its element type {type_name} is not a number")
    dims = list(tensor.dims)
    if any(size < 0 for size in dims) or math.prod(dims) > MAX_TENSOR_ELEMENTS:
        raise refusal(what, f"its shape {short(dims)} is negative or larger than "
                            f"{MAX_TENSOR_ELEMENTS} elements")
    try:
        return numpy_helper.to_array(tensor)
    except (ValueError, TypeError) as error:
        raise refusal(what, f"its data does not fit its shape {short(dims)} ({error})") from None


def constant_value(onnx, numpy_helper, node: Node) -> np.ndarray:
    """The value of a Constant node: a tensor, or one or more floats or integers."""
    if len(node.attributes) != 1:
        raise refusal(node.label, f"a Constant needs one value attribute, got {sorted(node.attributes)}")
    name, value = next(iter(node.attributes.items()))
    if name == "value" and isinstance(value, onnx.TensorProto):
        return tensor_array(onnx, numpy_helper, value, node.label)
    kinds = {"value_float": (float, False), "value_floats": (float, True),
             "value_int": (int, False), "value_ints": (int, True)}
    if name in kinds:
        kind, many = kinds[name]
        values = value if many and isinstance(value, (list, tuple)) else [value]
        if (many or not isinstance(value, (list, tuple))) and all(
                isinstance(item, (int, float) if kind is float else int) and
                not isinstance(item, bool) for item in values):
            return np.asarray(value, dtype=np.float32 if kind is float else np.int64)
    raise node.refuse(name, value, "only a tensor, floats or integers are read")


def transposed(node: Node, value: np.ndarray) -> np.ndarray:
    """A Transpose of a constant (PyTorch exports a Linear without bias as one before a MatMul),
    computed once."""
    perm = node.get("perm", None)
    axes = list(range(value.ndim))[::-1] if perm is None else list(perm)
    if sorted(axes) != list(range(value.ndim)):
        raise node.refuse("perm", perm, f"a permutation of the {value.ndim} axes is expected")
    return np.ascontiguousarray(np.transpose(value, axes))
