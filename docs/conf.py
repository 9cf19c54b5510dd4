"""Sphinx configuration of the cnn-ext documentation.

    pip install ".[docs]"
    sphinx-build -W --keep-going -b html docs docs/_build

The API pages are generated from the docstrings of the installed packages; the tutorial is
examples/tutorial.ipynb with its committed outputs (rendered, never executed here).
"""

import shutil
from importlib.metadata import version as installed_version
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"

project = "cnn-ext"
author = "cnn-ext developers"
copyright = "2026, cnn-ext developers"
release = installed_version("cnn-ext")
version = release

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode", "myst_nb"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "jupyter_execute"]
html_theme = "furo"
html_title = f"cnn-ext {release}"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = ["Shape"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # the notebook's committed outputs are shown as they are

# The notebooks live beside the examples they use; copies (and the digits) are rendered here.
for notebook in ("tutorial.ipynb", "deep_network.ipynb"):
    shutil.copy(EXAMPLES / notebook, HERE / notebook)
