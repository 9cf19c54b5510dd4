"""Where one training step goes: milliseconds per layer, forward and backward.

    python benchmarks/profile_step.py [--model lenet|simpleconvnet|deepconvnet|resnet]
                                      [--dtype float32|float64] [--batch-size N] [--steps 50]

The layers inside a residual block are timed one by one too (indented under the block, whose
own line includes them).

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
from cnn.models import DeepConvNet, LeNet, ResNet, SimpleConvNet
from cnn.optim import Adam


MODELS = {"lenet": LeNet, "simpleconvnet": SimpleConvNet, "deepconvnet": DeepConvNet,
          "resnet": ResNet}


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
    parser.add_argument("--model", choices=sorted(MODELS), default="lenet")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="samples per step (default: 128 for LeNet, 100 for the others)")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    batch_size = args.batch_size or (128 if args.model == "lenet" else 100)
    x = rng.random((batch_size, 1, 28, 28)).astype(args.dtype)
    t = rng.integers(0, 10, batch_size)
    model = MODELS[args.model](seed=0, dtype=np.dtype(args.dtype))
    optimizer = Adam(lr=1e-3)
    timers = Timers()
    names, inner_names = [], set()
    for index, layer in enumerate(model.layers):
        names.append(f"{index:>2} {layer!r}"[:46])
        timers.wrap(layer, "forward", names[-1], "forward")
        timers.wrap(layer, "backward", names[-1], "backward")
        for branch in ("shortcut", "body"):
            for inner_index, inner in enumerate(getattr(layer, branch, None) or []):
                names.append(f"   {index}.{branch}[{inner_index}] {inner!r}"[:46])
                inner_names.add(names[-1])
                timers.wrap(inner, "forward", names[-1], "forward")
                timers.wrap(inner, "backward", names[-1], "backward")
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
    total = sum(seconds for (name, _), seconds in per_step.items() if name not in inner_names)
    print(f"{'layer':<46} {'forward ms':>10} {'backward ms':>11} {'share':>6}")
    for name in names + ["loss", "optimizer"]:
        forward, backward = per_step.get((name, "forward"), 0.0), per_step.get((name, "backward"), 0.0)
        print(f"{name:<46} {forward:>10.2f} {backward:>11.2f} {(forward + backward) / total:>6.1%}")
    print(f"{'total per step':<46} {total:>22.2f} ms")


if __name__ == "__main__":
    main()
