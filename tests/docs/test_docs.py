"""The documentation site builds without a warning, links every guide, shows the docstrings'
sections, and documents every public name (every entry of a public module's __all__).

Needs the docs extra (Sphinx, furo, myst-nb); skipped without it, except with
CNN_EXT_REQUIRE_EXTRAS=1 (set by .ci/run), where a missing package fails the run."""

import importlib
import inspect
import os
import re
from pathlib import Path

import pytest

from extras import optional
from test_docstrings import MODULES
from paths import ROOT

INSTALL = 'pip install ".[docs]"'

# Sphinx and its extensions announce their own API changes while building; they are not ours.
pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                         "ignore::PendingDeprecationWarning")]

DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    build = optional("sphinx.cmd.build", INSTALL)
    optional("myst_nb", INSTALL)
    out = tmp_path_factory.mktemp("site")
    # -W: a warning fails the build, as with the README's command; .ci/run builds the site here
    status = build.build_main(["-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(out),
                               "-d", str(out / ".doctrees")])
    assert status == 0, "sphinx-build -W failed (its warnings are printed above)"
    return out


def documented_names(site):
    inventory = importlib.import_module("sphinx.util.inventory")
    with open(site / "objects.inv", "rb") as file:
        data = inventory.InventoryFile.load(file, "", os.path.join)
    return {name for entries in data.values() for name in entries}


def test_the_index_links_every_guide_and_the_tutorial(site):
    index = (site / "index.html").read_text()
    for guide in sorted((DOCS / "guides").glob("*.md")):
        assert f'href="guides/{guide.stem}.html"' in index, guide.name
    for page in ("getting-started", "tutorial", "study-notebook", "api/index"):
        assert f'href="{page}.html"' in index, page


def test_the_convolution_page_shows_its_arguments_and_shape(site):
    page = (site / "api" / "cnn.html").read_text()
    start = page.index('id="cnn.layers.Convolution"')
    text = re.sub(r"<[^>]+>", " ", page[start:page.index('id="cnn.layers.Convolution.create"')])
    assert "Parameters" in text and "Shape" in text
    assert "(out_channels, in_channels // groups, filter_h, filter_w)" in text


def test_every_public_name_is_in_the_api_reference(site):
    documented = {name.rsplit(".", 1)[-1] for name in documented_names(site)}
    missing = [f"{module}.{name}" for module in MODULES
               for name in getattr(importlib.import_module(module), "__all__", [])
               if not name.startswith("__") and name not in documented
               and not inspect.ismodule(getattr(importlib.import_module(module), name))]
    assert not missing, f"public names missing from docs/api: {missing}"
