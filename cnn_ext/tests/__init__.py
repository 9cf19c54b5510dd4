"""The tests of the compiled kernels, shipped with the package so that any installation can check
its build: ``python -m cnn_ext.tests`` or ``cnn_ext.test()`` (pytest and hypothesis come with the
``test`` extra: ``pip install "cnn-ext[test]"``)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["run"]

MISSING_EXTRA = 'the cnn_ext tests need pytest and hypothesis: pip install "cnn-ext[test]"'


def run(arguments: list[str] | None = None) -> int:
    """Run the shipped tests against the installed build; return pytest's exit status.

    ``arguments`` go to pytest after the tests' location (for example ``["-q", "-x"]``).
    """
    try:
        import hypothesis  # noqa: F401
        import pytest
    except ImportError as missing:
        raise ImportError(f"{MISSING_EXTRA} ({missing})") from None
    location = str(Path(__file__).resolve().parent)
    # rootdir at the tests themselves: no project configuration of the current directory applies;
    # no cache directory is written into it.
    return int(pytest.main([location, "--rootdir", location, "-p", "no:cacheprovider",
                            *(arguments or [])]))
