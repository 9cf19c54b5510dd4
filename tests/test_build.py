"""The installed package: compiled modules, one version, and the build mode CI asked for."""

import importlib.machinery
import os

import numpy as np
import pytest

import cnn
import cnn_ext
from cnn_ext import _im2col, _pool


def test_kernels_are_compiled_extension_modules():
    for module in (_im2col, _pool):
        assert module.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def test_both_packages_report_the_installed_version():
    assert cnn_ext.__version__ == cnn.__version__
    assert cnn_ext.__version__ != "0+unknown"


def test_build_mode_is_the_one_requested():
    # .ci/run sets CNN_EXT_EXPECT_DEBUG when it tests the CNN_EXT_DEBUG=1 build.
    expect_debug = os.environ.get("CNN_EXT_EXPECT_DEBUG", "0") == "1"
    assert cnn_ext.BOUNDS_CHECKED is expect_debug


def test_out_of_range_argmax_never_reaches_memory():
    dout = np.ones((1, 1, 1, 1))
    argmax = np.full((1, 1, 1, 1), 99, dtype=np.intp)
    # The wrapper refuses it in every build ...
    with pytest.raises(ValueError):
        cnn_ext.maxpool_backward(dout, argmax, (1, 1, 2, 2), 2, 2)
    # ... and a CNN_EXT_DEBUG=1 build also stops the raw kernel instead of writing past dx.
    if cnn_ext.BOUNDS_CHECKED:
        with pytest.raises(IndexError):
            _pool.maxpool_backward_kernel(dout, argmax, np.zeros((1, 1, 4)))
