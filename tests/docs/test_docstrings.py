"""The examples in the docstrings of every public module of cnn and cnn_ext run and print what
they show (doctest), and every public name has a docstring."""

import doctest
import importlib
import inspect
import os
import pkgutil
import re

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


def documented_arguments(doc):
    """The entries of a Google-style ``Args:`` section: ``[(name, the entry's lines)]``."""
    lines = inspect.cleandoc(doc).splitlines()
    entries = []
    for index, line in enumerate(lines):
        if line.strip() not in ("Args:", "Arguments:"):
            continue
        base = None
        for follow in lines[index + 1:]:
            if not follow.strip():
                continue
            indent = len(follow) - len(follow.lstrip())
            if indent == 0:
                break
            base = base or indent
            if indent == base:
                name = follow.strip().split(":", 1)[0].split(" (", 1)[0]
                entries.append((name, [follow.strip()]))
            elif entries:
                entries[-1][1].append(follow.strip())
    return entries


def public_callables():
    """``(where, the documented object, the function whose signature it documents)`` for every
    public function and class (its constructor) of the two packages, and their public methods."""
    seen = set()
    for name in MODULES:
        module = importlib.import_module(name)
        for attribute in getattr(module, "__all__", []):
            value = getattr(module, attribute)
            if id(value) in seen or not callable(value):
                continue
            seen.add(id(value))
            if inspect.isclass(value):
                yield f"{name}.{attribute}", value, value.__init__
                for method_name, member in vars(value).items():
                    method = getattr(member, "__func__", member)
                    if not method_name.startswith("_") and inspect.isfunction(method):
                        yield f"{name}.{attribute}.{method_name}", method, method
            elif inspect.isroutine(value):
                yield f"{name}.{attribute}", value, value


CALLABLES = [(where, documented, function) for where, documented, function in public_callables()
             if documented_arguments(documented.__doc__ or "")]


def test_the_check_finds_documented_arguments():
    assert len(CALLABLES) > 20
    assert documented_arguments("A.\n\nArgs:\n    a: one.\n        more.\n    b (int): two.\n\nReturns:\n    x\n") \
        == [("a", ["a: one.", "more."]), ("b", ["b (int): two."])]


@pytest.mark.parametrize("where, documented, function", CALLABLES, ids=[where for where, _, _ in CALLABLES])
def test_documented_arguments_match_the_signature(where, documented, function):
    """One argument per entry, each a parameter of the signature, each described once, every
    parameter described, and no entry holding a second one ("x: ... y: ...")."""
    parameters = list(inspect.signature(function).parameters)
    if "." in function.__qualname__ and parameters and parameters[0] in ("self", "cls"):
        parameters = parameters[1:]
    names = [name for name, _ in documented_arguments(documented.__doc__)]
    assert [name for name in names if name not in parameters] == [], \
        f"{where} documents what is not a parameter (one argument per line): {names}"
    assert len(set(names)) == len(names), f"{where} documents an argument twice: {names}"
    assert [name for name in parameters if name not in names] == [], \
        f"{where} leaves parameters undescribed: {[p for p in parameters if p not in names]}"
    for name, lines in documented_arguments(documented.__doc__):
        text = " ".join(lines)
        others = [other for other in parameters if other != name
                  and re.search(rf"[.;]\s+{other}(\s*\([^)]*\))?:\s", text)]
        assert not others, f"{where}: the entry of {name!r} also describes {others}"
