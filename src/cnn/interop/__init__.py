"""Ways out to other tools: ONNX files and PyTorch modules, both directions.

    to_onnx(model, path)      a Sequential as an ONNX model (float32 in, class scores out)
    from_onnx(path)           such a model, or PyTorch's export of one, as a Sequential
    to_torch(model)           a Sequential as a torch.nn.Sequential, weights copied
    from_torch(module)        a torch.nn.Sequential of the same layer kinds as a Sequential

``onnx`` and ``torch`` are imported only inside these functions: ``pip install "cnn-ext[onnx]"``
for the first two (with onnxruntime to run the files), PyTorch for the last two.
"""

from cnn.interop import converters  # registers every layer family's converters
from cnn.interop.layout import DEFAULT_OPSET
from cnn.interop.onnx_export import to_onnx
from cnn.interop.onnx_import import from_onnx
from cnn.interop.torch_exchange import from_torch, to_torch

__all__ = ["to_onnx", "from_onnx", "to_torch", "from_torch", "DEFAULT_OPSET"]
