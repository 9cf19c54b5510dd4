"""The notebooks (examples/tutorial.ipynb, examples/deep_network.ipynb) run top to bottom in a
fresh kernel without an error.

Needs the notebook extra (nbclient, ipykernel); skipped without it, except with
CNN_EXT_REQUIRE_EXTRAS=1 (set by .ci/run), where a missing package fails the run."""

import json
import re
import time
from pathlib import Path

import pytest

from extras import optional
from paths import ROOT

INSTALL = 'pip install ".[notebook]"'

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "examples"


@pytest.mark.parametrize("name, figures", [("tutorial.ipynb", 5), ("deep_network.ipynb", 3)])
def test_the_notebook_runs_in_a_fresh_kernel(name, figures):
    nbformat = optional("nbformat", INSTALL)
    nbclient = optional("nbclient", INSTALL)
    notebook = nbformat.read(EXAMPLES / name, as_version=4)
    started = time.perf_counter()
    # Any cell's error raises CellExecutionError, naming the cell and the exception.
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(EXAMPLES)}}).execute()
    assert time.perf_counter() - started < 300
    images = sum("image/png" in output.get("data", {}) for cell in notebook.cells
                 for output in cell.get("outputs", []))
    assert images >= figures
    assert not list(EXAMPLES.glob("*.npz"))  # the notebook cleans up what it saved


def test_the_readme_and_the_tutorial_give_one_running_time_and_point_to_the_right_guide():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    notebook = json.loads((EXAMPLES / "tutorial.ipynb").read_text(encoding="utf-8"))
    cells = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown"]
    stated = re.search(r"jupyter lab examples/tutorial\.ipynb` \(about (\d+ s) on 2 cores\)", readme)
    assert stated, "the README no longer states the tutorial's running time"
    assert f"in about {stated.group(1)} on 2 cores" in cells[0]
    assert "a few minutes" not in "".join(cells)
    for guide in set(re.findall(r"docs/guides/[\w-]+\.md", "".join(cells))):
        assert (ROOT / guide).is_file(), guide
    last = cells[-1]
    assert "see the README" not in last and "docs/guides/models.md" in last
    assert "## Building a model by size" in (ROOT / "docs/guides/models.md").read_text(encoding="utf-8")
