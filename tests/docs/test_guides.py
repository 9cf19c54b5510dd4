"""What the guides and the README tell a reader holds: every Python block imports what it uses,
no command installs from an index that does not serve cnn-ext yet, and the advice for an import
that fails quotes the error Python really prints."""

import ast
import builtins
import doctest
import re
import subprocess
import sys

import pytest

from paths import ROOT

PAGES = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]
#: What the text around a block provides: the data set and the model it talks about.
GIVEN = {"model", "x_train", "t_train", "x_test", "t_test", "drawing"}


def blocks(page):
    """The source of each python block of ``page``, doctest prompts removed."""
    for block in re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
        if block.lstrip().startswith(">>>"):
            block = "".join(example.source for example in doctest.DocTestParser().get_examples(block))
        yield block


def bound_names(tree, imports):
    """Names a block binds: by import (``imports=True``) or by assignment, def and class."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and imports:
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not imports:
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and not imports:
            names.add(node.id)
        elif isinstance(node, ast.arg) and not imports:
            names.add(node.arg)
    return names


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(ROOT)) for page in PAGES])
def test_each_block_imports_what_it_uses(page):
    defined_before = set()
    missing = []
    for number, source in enumerate(blocks(page)):
        tree = ast.parse(source)
        known = set(dir(builtins)) | GIVEN | defined_before | bound_names(tree, True) | \
            bound_names(tree, False)
        used = {node.id for node in ast.walk(tree)
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
        missing += [f"block {number + 1}: {name}" for name in sorted(used - known)]
        defined_before |= bound_names(tree, False)
    assert not missing, f"{page.name} uses names it does not import: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(ROOT)) for page in PAGES])
def test_no_command_installs_from_an_index_that_does_not_serve_cnn_ext_yet(page):
    text = page.read_text(encoding="utf-8")
    for match in re.finditer(r"```bash\n(.*?)```", text, re.S):
        introduction = text[max(0, match.start() - 400):match.start()].lower()
        for line in match.group(1).splitlines():
            if re.match(r'\s*pip install (")?cnn-ext', line):
                assert "once" in introduction, f"{page.name}: {line.strip()!r} needs a published wheel"


def test_the_advice_for_a_shadowing_cnn_py_quotes_the_real_error(tmp_path):
    (tmp_path / "cnn.py").write_text("print('my notes')\n")
    (tmp_path / "train.py").write_text("from cnn.models import LeNet\n")
    result = subprocess.run([sys.executable, "train.py"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    error = result.stderr.strip().splitlines()[-1]
    assert "'cnn' is not a package" in error
    assert f"`{error}`" in (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
