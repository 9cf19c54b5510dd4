"""One module per layer family, each holding the family's four converters (to ONNX, from ONNX,
to PyTorch, from PyTorch), registered in :mod:`cnn.interop.registry` when imported. Every module
of this package is imported here, so a new family's file is all it takes."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
del _module
