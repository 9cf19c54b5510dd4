"""Where one LeNet training step goes: milliseconds per layer, forward and backward.

    python benchmarks/profile_step.py [--batch-size 128] [--steps 50]

The step is the Trainer's: inside ``cnn_ext.engine_scope()``, forward in training
mode, loss, backward without the input gradient of the first layer, Adam update.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

import cnn_ext
from cnn.models import LeNet
from cnn.optim import Adam


def timed_step(model, optimizer, names, x, t, forward, backward, weight: float) -> None:
    """One training step, adding each part's seconds times ``weight`` to ``forward``/``backward``."""
    out = x
    for name, layer in zip(names, model.layers):
        started = time.perf_counter()
        out = layer.forward(out, True)
        forward[name] += (time.perf_counter() - started) * weight
    started = time.perf_counter()
    model.loss_layer.forward(out, t)
    dout = model.loss_layer.backward()
    forward["loss"] += (time.perf_counter() - started) * weight
    for index in range(len(model.layers) - 1, -1, -1):
        started = time.perf_counter()
        if index:
            dout = model.layers[index].backward(dout)
        else:
            model.layers[0].backward_params(dout)
        backward[names[index]] += (time.perf_counter() - started) * weight
    started = time.perf_counter()
    optimizer.update(model.params, model.grads)
    forward["optimizer"] += (time.perf_counter() - started) * weight


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((args.batch_size, 1, 28, 28), dtype=np.float32)
    t = rng.integers(0, 10, args.batch_size)
    model, optimizer = LeNet(seed=0), Adam(lr=1e-3)
    forward, backward = defaultdict(float), defaultdict(float)
    names = [f"{index:>2} {layer!r}" for index, layer in enumerate(model.layers)]
    for step in range(args.steps + 5):
        with cnn_ext.engine_scope():
            # the first steps warm up caches and thread pools
            timed_step(model, optimizer, names, x, t, forward, backward, float(step >= 5))
    total = (sum(forward.values()) + sum(backward.values())) / args.steps * 1e3
    print(f"{'layer':<46} {'forward ms':>10} {'backward ms':>11} {'share':>6}")
    for name in names + ["loss", "optimizer"]:
        both = (forward[name] + backward[name]) / args.steps * 1e3
        print(f"{name:<46} {forward[name] / args.steps * 1e3:>10.2f} "
              f"{backward[name] / args.steps * 1e3:>11.2f} {both / total:>6.1%}")
    print(f"{'total per step':<46} {total:>22.2f} ms")


if __name__ == "__main__":
    main()
