"""Compiled kernels for convolution, pooling and batch normalization: im2col, col2im, max-pool,
batch normalization and a blocked convolution engine.

>>> import numpy as np, cnn_ext
>>> x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
>>> cnn_ext.im2col(x, 3, 3, stride=1, pad=1).shape
(128, 27)

``cnn_ext.reference`` holds plain NumPy versions of the same four functions.
"""

try:
    from cnn_ext._build_info import BOUNDS_CHECKED
except ModuleNotFoundError as missing:  # a source folder without its compiled modules
    from pathlib import Path
    raise ImportError(
        f"cnn_ext was imported from {Path(__file__).parent}, a source folder whose compiled "
        f"modules are not built (probably because Python looks in the current directory first). "
        f"Either run from another directory, so that the installed package is found, or build "
        f"the modules in place with: pip install -e ."
    ) from missing
from cnn_ext.engines.direct.dispatch import simd_path
from cnn_ext.runtime.threads import get_num_threads, set_num_threads
from cnn_ext.convolution import conv2d_backward, conv2d_forward
from cnn_ext.batchnorm import batchnorm_backward, batchnorm_forward
from cnn_ext.kernels import (add_relu, col2im, im2col, maxpool, maxpool_backward,
                             maxpool_forward, output_size, relu, relu_backward)
from cnn_ext.scope import cached_memory, engine_scope, release_cached_memory


def test(*pytest_arguments: str) -> bool:
    """Run the kernel tests shipped with the package against this installation.

    Needs the ``test`` extra (``pip install "cnn-ext[test]"``); extra arguments go to pytest
    (for example ``cnn_ext.test("-q", "-x")``). Returns True when every test passed.
    """
    from cnn_ext.tests import run
    return run(list(pytest_arguments)) == 0


def _installed_version() -> str:
    """The installed distribution's version; ``0+unknown`` in a source tree never installed."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("cnn-ext")
    except PackageNotFoundError:
        return "0+unknown"


__version__ = _installed_version()

__all__ = ["im2col", "col2im", "maxpool_forward", "maxpool", "maxpool_backward", "relu",
           "add_relu", "relu_backward", "conv2d_forward", "conv2d_backward", "batchnorm_forward",
           "batchnorm_backward", "output_size", "engine_scope",
           "cached_memory", "release_cached_memory", "get_num_threads", "set_num_threads",
           "simd_path", "BOUNDS_CHECKED", "test", "__version__"]
