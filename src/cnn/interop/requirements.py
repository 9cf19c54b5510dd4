"""Optional packages, imported only when a conversion needs them."""

from __future__ import annotations

import importlib
from types import ModuleType

INSTALL_HINT = {
    "onnx": 'pip install "cnn-ext[onnx]"',
    "onnxruntime": 'pip install "cnn-ext[onnx]"',
    "torch": "pip install torch (the CPU build is enough)",
}


def require(name: str) -> ModuleType:
    """Import the optional package ``name`` or raise an ImportError that says how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ImportError(f"{name} is needed for this conversion: {INSTALL_HINT[name]} "
                          f"({error})") from None
