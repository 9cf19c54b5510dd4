"""Fixtures of the kernel tests, shared with the framework's tests in the repository."""

import numpy as np
import pytest
from hypothesis import settings

# The shipped tests run from any directory: keep hypothesis from writing an example database there.
settings.register_profile("cnn_ext", database=None)
settings.load_profile("cnn_ext")

# Tolerances for results that are sums (col2im, pooling gradients, adjoint identities).
TOLERANCE = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def pytest_report_header(config):
    from cnn_ext.tests import kernels_line
    return kernels_line()


def pytest_configure(config):
    # Registered here rather than in pyproject.toml so that it also holds when the tests run
    # outside the source tree (python -m cnn_ext.tests, tools/build_wheel.sh, cibuildwheel).
    config.addinivalue_line("markers", "slow: takes seconds to minutes (the example in subprocesses, "
                                       "the notebooks, the docs, runs under mpiexec); deselect "
                                       "with -m 'not slow'")


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.fixture
def tol(dtype):
    """``assert_allclose`` keyword arguments for sums computed in ``dtype``."""
    return TOLERANCE[dtype]


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def winograd_setting(monkeypatch):
    """``setting("auto" | "always" | "never")`` routes as CNN_EXT_WINOGRAD would (read at import),
    for tests of the routing that must not depend on the environment they run in."""
    from cnn_ext import convolution

    def setting(value: str) -> None:
        monkeypatch.setattr(convolution, "_WINOGRAD", value)

    return setting
