"""What pyproject.toml installs: every package of the source tree, so that a wheel holds all the
code an editable install runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def listed_packages() -> set[str]:
    text = (ROOT / "pyproject.toml").read_text()
    listing = re.search(r"^packages = \[(.*?)\]", text, re.S | re.M)
    assert listing, "pyproject.toml lists no packages under [tool.setuptools]"
    return set(re.findall(r'"([\w.]+)"', listing.group(1)))


def source_packages() -> set[str]:
    found = set()
    for root, prefix in ((ROOT / "src" / "cnn", "cnn"), (ROOT / "cnn_ext", "cnn_ext")):
        for init in root.rglob("__init__.py"):
            parts = init.parent.relative_to(root).parts
            found.add(".".join((prefix, *parts)))
    return found


def test_every_source_package_is_installed():
    assert sorted(source_packages() - listed_packages()) == []
    assert sorted(listed_packages() - source_packages()) == []
