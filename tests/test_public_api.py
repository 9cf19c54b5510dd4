"""What a learner sees exploring the packages: the API and the modules, nothing else."""

import importlib
import inspect

import pytest


@pytest.mark.parametrize("package", ["cnn_ext", "cnn"])
def test_the_top_level_shows_its_api_and_its_modules_only(package):
    """``dir(cnn_ext)`` is what a learner explores: no helper a module happened to import."""
    module = importlib.import_module(package)
    stray = [name for name in dir(module) if not name.startswith("_")
             and name not in module.__all__ and not inspect.ismodule(getattr(module, name))]
    assert not stray, f"{package} shows names outside its __all__: {stray}"
    assert isinstance(module.__version__, str) and module.__version__
