"""The tests of the compiled kernels, shipped with the package so that any installation can check
its build: ``python -m cnn_ext.tests`` or ``cnn_ext.test()`` (pytest and hypothesis come with the
``test`` extra: ``pip install "cnn-ext[test]"``)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["run", "kernels_line"]

MISSING_EXTRA = 'the cnn_ext tests need pytest and hypothesis: pip install "cnn-ext[test]"'


def run(arguments: list[str] | None = None) -> int:
    """Run the shipped tests against the installed build; return pytest's exit status.

    ``arguments`` go to pytest after the tests' location (for example ``["-q", "-x"]``).
    Nothing is written into the current directory.
    """
    try:
        import pytest
    except ImportError as error:
        raise ImportError(f"{MISSING_EXTRA} ({error})") from None
    if importlib.util.find_spec("hypothesis") is None:  # found, not imported: pytest loads it
        raise ImportError(f"{MISSING_EXTRA} (no module named 'hypothesis')")

    print(kernels_line())
    location = str(Path(__file__).resolve().parent)
    scratch = None
    if "HYPOTHESIS_STORAGE_DIRECTORY" not in os.environ:  # hypothesis caches into ./.hypothesis
        scratch = tempfile.mkdtemp(prefix="cnn_ext-tests-")
        os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = scratch
    try:
        # rootdir at the tests themselves: no configuration of the current directory applies.
        return int(pytest.main([location, "--rootdir", location, "-p", "no:cacheprovider",
                                *(arguments or [])]))
    finally:
        if scratch is not None:
            del os.environ["HYPOTHESIS_STORAGE_DIRECTORY"]
            shutil.rmtree(scratch, ignore_errors=True)


def kernels_line() -> str:
    """Which convolution kernels these tests run, for the report."""
    from cnn_ext.engines.direct.dispatch import SIMD_ENV_VAR, simd_path, supported_paths
    forced = os.environ.get(SIMD_ENV_VAR)
    setting = f"{SIMD_ENV_VAR}={forced!r}" if forced else f"{SIMD_ENV_VAR} unset"
    return (f"cnn_ext convolution kernels: {simd_path()} (this CPU supports "
            f"{', '.join(supported_paths())}; {setting})")
