"""Optional packages of the tests: skipped without them, except where .ci/run requires them."""

import importlib
import os

import pytest


def optional(name: str, install: str):
    """Import ``name``; without it skip (saying ``install``), or fail with CNN_EXT_REQUIRE_EXTRAS=1."""
    if os.environ.get("CNN_EXT_REQUIRE_EXTRAS") == "1":
        return importlib.import_module(name)
    return pytest.importorskip(name, reason=f"{name} is not installed ({install})")
