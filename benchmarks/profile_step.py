"""Where one LeNet training step goes: milliseconds per layer, forward and backward.

    python benchmarks/profile_step.py [--model lenet|deepconvnet] [--batch-size N] [--steps 50]

The step is the Trainer's: ``model.train_step`` (forward in training mode, loss, backward
without the first layer's input gradient), then the Adam update, all steps inside one
``cnn_ext.engine_scope()`` as ``Trainer.fit`` runs them. Each layer's methods are wrapped with
a timer for the run.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

import cnn_ext
from cnn.models import DeepConvNet, LeNet
from cnn.optim import Adam


class Timers:
    """Seconds per (name, pass), added up while ``counting`` is true."""

    def __init__(self) -> None:
        self.seconds = defaultdict(float)
        self.counting = False

    def wrap(self, owner, method_name: str, name: str, which: str) -> None:
        method = getattr(owner, method_name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            result = method(*args, **kwargs)
            if self.counting:
                self.seconds[name, which] += time.perf_counter() - started
            return result

        setattr(owner, method_name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["lenet", "deepconvnet"], default="lenet")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="samples per step (default: 128 for LeNet, 100 for DeepConvNet)")
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    batch_size = args.batch_size or (128 if args.model == "lenet" else 100)
    x = rng.random((batch_size, 1, 28, 28), dtype=np.float32)
    t = rng.integers(0, 10, batch_size)
    model = LeNet(seed=0) if args.model == "lenet" else DeepConvNet(seed=0)
    optimizer = Adam(lr=1e-3)
    timers = Timers()
    names = [f"{index:>2} {layer!r}" for index, layer in enumerate(model.layers)]
    for name, layer in zip(names, model.layers):
        timers.wrap(layer, "forward", name, "forward")
        timers.wrap(layer, "backward", name, "backward")
    # train_step calls backward_params on the first layer only (elsewhere backward calls it)
    timers.wrap(model.layers[0], "backward_params", names[0], "backward")
    timers.wrap(model.loss, "forward", "loss", "forward")
    timers.wrap(model.loss, "backward", "loss", "backward")
    timers.wrap(optimizer, "update", "optimizer", "forward")
    with cnn_ext.engine_scope():
        for step in range(args.steps + 5):
            timers.counting = step >= 5  # the first steps warm up caches and thread pools
            model.train_step(x, t)
            optimizer.update(model.named_params(), model.named_grads())
    per_step = {key: seconds / args.steps * 1e3 for key, seconds in timers.seconds.items()}
    total = sum(per_step.values())
    print(f"{'layer':<46} {'forward ms':>10} {'backward ms':>11} {'share':>6}")
    for name in names + ["loss", "optimizer"]:
        forward, backward = per_step.get((name, "forward"), 0.0), per_step.get((name, "backward"), 0.0)
        print(f"{name:<46} {forward:>10.2f} {backward:>11.2f} {(forward + backward) / total:>6.1%}")
    print(f"{'total per step':<46} {total:>22.2f} ms")


if __name__ == "__main__":
    main()
