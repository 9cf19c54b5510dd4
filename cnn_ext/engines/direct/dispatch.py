"""Which compiled direct-convolution kernels run: one module per instruction set, chosen once.

The wheel holds the kernels compiled for the platform's baseline and, on x86-64, for AVX2
with FMA and for AVX-512F, each module built with its own flags. At import the best one this
CPU and its operating system support is chosen (CPUID and XGETBV, in cnn_ext.engines.direct.cpu); the
environment variable ``CNN_EXT_SIMD`` (``baseline``, ``avx2`` or ``avx512``) forces a lower
one. Asking for one the CPU lacks, or that this build does not hold (the AVX modules on
arm64), warns and falls back to the best available, never to an illegal instruction.
"""

from __future__ import annotations

import importlib
import os
import warnings
from types import ModuleType
from typing import Optional

from cnn_ext.engines.direct.cpu import cpu_features

__all__ = ["SIMD_PATHS", "SIMD_ENV_VAR", "simd_path", "supported_paths", "kernels_for", "choose_path"]

#: Every instruction-set path, lowest first.
SIMD_PATHS = ("baseline", "avx2", "avx512")
#: The environment variable that forces a lower path.
SIMD_ENV_VAR = "CNN_EXT_SIMD"


def kernels_for(path: str) -> ModuleType:
    """The kernel module of one path (it must be one of :func:`supported_paths`)."""
    return importlib.import_module(f"cnn_ext.engines.direct.kernels_{path}")


def supported_paths() -> list[str]:
    """The paths this CPU supports and this build holds, lowest first."""
    features = cpu_features()
    paths = []
    for path in SIMD_PATHS:
        if path != "baseline" and not features[path]:
            continue
        try:
            kernels_for(path)
        except ImportError:  # not built for this platform
            continue
        paths.append(path)
    return paths


def choose_path(requested: str, supported: list[str]) -> tuple[str, Optional[str]]:
    """The path to use for the value of ``CNN_EXT_SIMD`` (empty: none) and the ``supported``
    paths, and the warning to give (None when the request is met)."""
    best = supported[-1]
    requested = requested.strip().lower()
    if not requested:
        return best, None
    if requested not in SIMD_PATHS:
        return best, (f"{SIMD_ENV_VAR}={requested!r} is not one of {', '.join(SIMD_PATHS)}; "
                      f"using {best}")
    if requested not in supported:
        return best, (f"{SIMD_ENV_VAR}={requested!r}: this CPU or this build does not support it "
                      f"(supported: {', '.join(supported)}); using {best}")
    return requested, None


_path, _warning = choose_path(os.environ.get(SIMD_ENV_VAR, ""), supported_paths())
if _warning is not None:
    warnings.warn(_warning, RuntimeWarning, stacklevel=2)
#: The kernel module in use.
kernels = kernels_for(_path)


def simd_path() -> str:
    """The instruction set of the convolution kernels in use: ``"avx512"``, ``"avx2"`` or
    ``"baseline"`` (the best this CPU supports, unless ``CNN_EXT_SIMD`` forced a lower one).

    Example:
        >>> simd_path() in ("baseline", "avx2", "avx512")
        True
    """
    return _path
