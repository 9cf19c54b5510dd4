import numpy as np
import pytest

# Tolerances for results that are sums (col2im, pooling gradients, adjoint identities).
TOLERANCE = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


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
