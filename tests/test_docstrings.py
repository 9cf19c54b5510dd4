"""The examples in the docstrings of every public module of cnn and cnn_ext run and print what
they show (doctest), and every public name has a docstring."""

import doctest
import importlib
import inspect
import os
import pkgutil

import pytest

import cnn
import cnn_ext


def public_modules():
    """Every importable module of the two packages whose dotted name has no private part."""
    names = ["cnn", "cnn_ext"]
    for package in (cnn, cnn_ext):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            parts = info.name.split(".")
            if not any(part.startswith("_") for part in parts) and "tests" not in parts:
                names.append(info.name)
    return sorted(names)


MODULES = public_modules()


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    failures, _ = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
                                  verbose=False, report=True)
    assert failures == 0, f"{failures} docstring examples of {name} failed (see the output above)"


@pytest.mark.parametrize("name", MODULES)
def test_every_public_name_has_a_docstring(name):
    module = importlib.import_module(name)
    assert module.__doc__, f"module {name} has no docstring"
    for attribute in getattr(module, "__all__", []):
        value = getattr(module, attribute)
        if inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value):
            assert value.__doc__, f"{name}.{attribute} has no docstring"
