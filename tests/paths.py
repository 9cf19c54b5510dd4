"""Where the repository's files are, for the tests in any folder of tests/."""

from pathlib import Path

#: The folder holding the tests' helpers (this file, extras.py, mnist_files.py...).
TESTS = Path(__file__).resolve().parent
#: The repository's root.
ROOT = TESTS.parent
