"""A training step of the book's networks on the book's own ``common/`` and on ``cnn.book``.

    python benchmarks/book_programs.py ~/deep-learning-from-scratch
    python benchmarks/book_programs.py ~/deep-learning-from-scratch --network deep --steps 5

The book's repository (oreilly-japan/deep-learning-from-scratch) is not part of cnn-ext: give
the path of a checkout. Each measurement runs in a fresh process, from the chapter's folder, as
``ch07/train_convnet.py`` (``--network simple``) or ``ch08/train_deepnet.py`` (``--network
deep``) build their network and ``Trainer``: a first step, then ``--steps`` steps of
``Trainer.train_step`` (a ``gradient``, an Adam update and a ``loss`` of 100 images), timed.
The three variants (the book's code, ``cnn.book`` in float64, ``cnn.book --float32``) alternate
for ``--rounds`` rounds; the table gives each one's range and its speed-up over the book's.
Unset ``OPENBLAS_CORETYPE`` and run it alone: anything beside it changes every ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from timing import cpu_name

#: For each network: the chapter, and the code that builds it as the chapter's script does.
NETWORKS = {
    "simple": ("ch07", "from simple_convnet import SimpleConvNet\n"
                       "network = SimpleConvNet(input_dim=(1, 28, 28), conv_param={'filter_num': 30, "
                       "'filter_size': 5, 'pad': 0, 'stride': 1}, hidden_size=100, output_size=10, "
                       "weight_init_std=0.01)\n"),
    "deep": ("ch08", "from deep_convnet import DeepConvNet\nnetwork = DeepConvNet()\n"),
}

STEPS = """
import os, sys, time
import numpy as np
{prelude}
sys.path.insert(0, os.getcwd())
sys.path.append(os.pardir)
from dataset.mnist import load_mnist
from common.trainer import Trainer
np.random.seed(0)
(x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)
{network}
trainer = Trainer(network, x_train, t_train, x_test, t_test, epochs=20, mini_batch_size=100,
                  optimizer='Adam', optimizer_param={{'lr': 0.001}},
                  evaluate_sample_num_per_epoch=1000, verbose=False)
trainer.train_step()
started = time.perf_counter()
for _ in range({steps}):
    trainer.train_step()
print((time.perf_counter() - started) / {steps} * 1000)
"""

#: The variants: their name, and the code that comes before the program's imports.
VARIANTS = {
    "the book's common/": "",
    "cnn.book": "from cnn.book.runner import alias_book_packages\nalias_book_packages()",
    "cnn.book --float32": "import cnn.book\ncnn.book.set_compute_dtype(np.float32)\n"
                          "from cnn.book.runner import alias_book_packages\nalias_book_packages()",
}


def step_milliseconds(book: Path, network: str, prelude: str, steps: int) -> float:
    """Milliseconds per training step, measured in a fresh process from the chapter's folder."""
    chapter, build = NETWORKS[network]
    code = STEPS.format(prelude=prelude, network=build, steps=steps)
    finished = subprocess.run([sys.executable, "-c", code], cwd=book / chapter, text=True,
                              capture_output=True)
    if finished.returncode:
        raise SystemExit(f"the step failed in {book / chapter}:\n{finished.stderr}")
    return float(finished.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("book", type=Path, help="a checkout of deep-learning-from-scratch")
    parser.add_argument("--network", choices=sorted(NETWORKS), default="simple")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds")
    args = parser.parse_args()
    if not (args.book / "common" / "layers.py").is_file():
        parser.error(f"book: {args.book} is not a checkout of the book's repository (no "
                     f"common/layers.py in it)")
    if "OPENBLAS_CORETYPE" in os.environ:
        print("note: OPENBLAS_CORETYPE is set, which slows NumPy's BLAS; unset it", file=sys.stderr)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name, prelude in VARIANTS.items():
            times[name].append(step_milliseconds(args.book, args.network, prelude, args.steps))
    print(f"{args.network} network, {args.steps} steps x {args.rounds} rounds, "
          f"{cpu_name()}, {os.cpu_count()} CPUs")
    book_best = min(times["the book's common/"])
    for name, values in times.items():
        print(f"{name:<22} {min(values):8.1f} - {max(values):8.1f} ms per step   "
              f"{book_best / min(values):5.1f}x the book's speed")


if __name__ == "__main__":
    main()
