"""``python -m cnn.book SCRIPT [ARGS...]`` (or ``cnn-book``): a program of the book, unchanged,
on cnn-ext.

The program runs as ``python SCRIPT ARGS`` would run it (its folder first on ``sys.path``, as
``__main__``, with ``sys.argv`` of ``SCRIPT ARGS``, in the current directory), except that its
``import common.layers``, ``from dataset.mnist import load_mnist`` and the like resolve to
:mod:`cnn.book`'s modules, even where the book's own ``common/`` sits in the parent folder
that its scripts add to ``sys.path``. Its own files (a chapter's network) are its own.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import runpy
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from cnn.book import common, dataset
from cnn.book.precision import set_compute_dtype

__all__ = ["main", "alias_book_packages", "run_book_program"]

#: The book's package names, and the packages of cnn.book that stand for them.
BOOK_PACKAGES = {"common": common, "dataset": dataset}


def alias_book_packages() -> None:
    """Make ``common``, ``common.<module>``, ``dataset`` and ``dataset.<module>`` name
    :mod:`cnn.book`'s modules in ``sys.modules``, where ``import`` looks before any folder."""
    for name, package in BOOK_PACKAGES.items():
        sys.modules[name] = package
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_"):
                sys.modules[f"{name}.{module.name}"] = importlib.import_module(
                    f"{package.__name__}.{module.name}")


def _headless() -> bool:
    return sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                     or os.environ.get("WAYLAND_DISPLAY"))


class FigureSaver:
    """Stands for ``matplotlib.pyplot.show``: saves each open figure as a numbered PNG in
    ``folder`` (``figure-01.png``, ...) and closes it."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.count = folder, 0

    def __call__(self, *args, **kwargs) -> None:
        import matplotlib.pyplot as plt
        for number in plt.get_fignums():
            self.count += 1
            path = self.folder / f"figure-{self.count:02d}.png"
            plt.figure(number).savefig(path)
            print(f"cnn.book: figure saved to {path}", file=sys.stderr)
        plt.close("all")


def _prepare_figures(folder: Optional[Path]) -> None:
    """Figures to PNG files in ``folder``; with no folder on a machine without a display,
    the non-interactive Agg backend (``plt.show()`` then shows nothing), with a note."""
    if folder is None and not _headless():
        return
    try:
        import matplotlib
    except ImportError:
        if folder is not None:
            raise SystemExit('cnn-book: error: --figures needs matplotlib: pip install "cnn-ext[plot]"')
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    if folder is None:
        print("cnn.book: no display here, so plt.show() shows nothing; pass --figures DIR to "
              "save the figures", file=sys.stderr)
        return
    folder.mkdir(parents=True, exist_ok=True)
    plt.show = FigureSaver(folder)


def run_book_program(script: Path, args: Sequence[str] = ()) -> None:
    """Run the book program ``script`` with ``args`` as ``python script args`` would, on
    :mod:`cnn.book`'s ``common`` and ``dataset``."""
    alias_book_packages()
    sys.argv = [str(script), *args]
    sys.path.insert(0, str(script.resolve().parent))
    runpy.run_path(str(script), run_name="__main__")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnn-book", description="Run a program of the book Deep Learning from Scratch, "
        "unchanged, on cnn-ext's compiled kernels.",
        epilog="example: cd deep-learning-from-scratch/ch07 && python -m cnn.book "
               "train_convnet.py --seed 0")
    parser.add_argument("script", type=Path, help="the book's program, for example "
                        "ch07/train_convnet.py")
    parser.add_argument("args", nargs="*", help="arguments for the program; after -- even "
                        "those that look like these options")
    parser.add_argument("--seed", type=int, help="seed np.random with this before the program "
                        "starts, so that a run can be repeated (and compared with the book's)")
    parser.add_argument("--figures", type=Path, metavar="DIR", help="save each figure that "
                        "plt.show() would open as DIR/figure-NN.png instead")
    parser.add_argument("--float32", action="store_true", help="compute in float32 (faster); "
                        "the book's float64 weights stay the copy its optimizer updates")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line; returns the program's exit status."""
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    ours, theirs = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv \
        else (argv, [])
    options, unknown = parser.parse_known_args(ours)
    options.args = [*options.args, *unknown, *theirs]
    if not options.script.is_file():
        parser.error(f"SCRIPT: no such file: {options.script} (give the path of a book "
                     f"program, for example ch07/train_convnet.py)")
    if options.seed is not None:
        if not 0 <= options.seed < 2 ** 32:
            parser.error(f"--seed must be between 0 and 2**32 - 1, got {options.seed}")
        np.random.seed(options.seed)
    if options.figures is not None and options.figures.exists() and not options.figures.is_dir():
        parser.error(f"--figures must name a folder (made if missing), got the file "
                     f"{options.figures}")
    if options.float32:
        set_compute_dtype(np.float32)
    _prepare_figures(options.figures)
    started = time.perf_counter()
    status = 0
    try:
        run_book_program(options.script, options.args)
    except SystemExit as exit_:
        status = exit_.code
    print(f"cnn.book: {options.script} took {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return status
