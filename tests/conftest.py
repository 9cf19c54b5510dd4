"""The framework's tests use the fixtures (and the slow marker) of the shipped kernel tests."""

from cnn_ext.tests.conftest import dtype, pytest_configure, rng, tol  # noqa: F401
