"""The README's short example runs as written: from a clone's root, with the network disabled and
an empty user cache, as a new user would run it."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from paths import ROOT

REPOSITORY = ROOT
EXAMPLE = REPOSITORY / "examples" / "short_example.py"

# Imported by Python at start-up from PYTHONPATH: every connection attempt fails.
NO_NETWORK = '''
import socket

def _refuse(*args, **kwargs):
    raise OSError("the network is disabled for this test")

socket.socket.connect = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
'''


def readme_example():
    text = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    section = text[text.index("A short example, in the book's style"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_shows_the_example_file():
    assert readme_example() == EXAMPLE.read_text(encoding="utf-8")


def offline_clone(tmp_path):
    """A folder laid out as a clone's root (the source folder cnn_ext/ that would shadow the
    installed package, examples/, data/mnist), an empty home and cache, and no network."""
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("cnn_ext", "examples", "data"):
        (clone / name).symlink_to(REPOSITORY / name)
    (tmp_path / "no-network").mkdir()
    (tmp_path / "no-network" / "sitecustomize.py").write_text(NO_NETWORK)
    env = {key: value for key, value in os.environ.items() if key != "CNN_EXT_DATA"}
    env.update(PYTHONPATH=str(tmp_path / "no-network"), HOME=str(tmp_path / "home"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    return clone, env


def test_the_network_is_really_disabled_there(tmp_path):
    clone, env = offline_clone(tmp_path)
    probe = ("from cnn.datasets import load_mnist\n"
             "load_mnist(root='mnist-copy')\n")
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "the network is disabled for this test" in result.stderr
    assert "CNN_EXT_DATA" in result.stderr and "data/mnist" in result.stderr


@pytest.mark.slow
def test_the_readme_example_runs_offline_from_a_clones_root(tmp_path):
    clone, env = offline_clone(tmp_path)
    result = subprocess.run([sys.executable, "examples/short_example.py"], cwd=clone, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[2].startswith("| epoch 3 |")
    assert float(lines[2].split("test loss")[1].split("acc")[1].split("|")[0]) > 0.97
    predicted, labels = (np.array(part.split(), int) for part in re.findall(r"\[([\d ]+)\]", lines[-1]))
    assert labels.tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert (predicted == labels).sum() >= 9
    assert (clone / "lenet.npz").is_file() and not (tmp_path / "cache").exists()
