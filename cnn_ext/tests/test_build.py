"""The installed package: compiled modules, one version, and the build mode CI asked for."""

import importlib.machinery
import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

import cnn
import cnn_ext
from cnn_ext import _build_info
from cnn_ext.engines import unfold_loops as _conv
from cnn_ext.loops import activations as _activations, im2col as _im2col, pool as _pool
from cnn_ext.runtime import memory as _memory

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"  # in a clone only


def test_kernels_are_compiled_extension_modules():
    for module in (_activations, _build_info, _conv, _im2col, _memory, _pool):
        assert module.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def test_both_packages_report_the_installed_distributions_version():
    installed = version("cnn-ext")  # the distribution's metadata, not a value cnn copies
    assert cnn_ext.__version__ == installed
    assert cnn.__version__ == installed
    if PYPROJECT.exists():  # in the repository (not from a copy of the tests)
        declared = re.search(r'^version = "([^"]+)"', PYPROJECT.read_text(), re.MULTILINE).group(1)
        assert installed == declared


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


def test_a_source_folder_without_compiled_modules_says_what_to_do(tmp_path):
    source = Path(cnn_ext.__file__).parent
    copy = tmp_path / "cnn_ext"
    copy.mkdir()
    for path in source.glob("*.py"):  # the Python files only, as in a fresh clone
        (copy / path.name).write_text(path.read_text())
    result = subprocess.run([sys.executable, "-c", "import cnn_ext"], cwd=tmp_path,
                            capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=""))
    assert result.returncode != 0
    assert "source folder whose compiled modules are not built" in result.stderr
    assert "pip install -e ." in result.stderr


def test_running_the_shipped_tests_without_pytest_names_the_extra(tmp_path):
    blocker = tmp_path / "blocker" / "pytest"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('No module named pytest')\n")
    path = os.pathsep.join(filter(None, [str(blocker.parent), os.environ.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-m", "cnn_ext.tests"], cwd=tmp_path, capture_output=True,
                            text=True, env=dict(os.environ, PYTHONPATH=path))
    assert result.returncode == 2
    assert 'pip install "cnn-ext[test]"' in result.stderr and "Traceback" not in result.stderr
