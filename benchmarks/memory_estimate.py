"""How close cnn.memory's estimate of a training step's peak memory comes to the real peak.

    python benchmarks/memory_estimate.py                   # LeNet and DeepConvNet, batch 32-4096
    python benchmarks/memory_estimate.py --models lenet --batches 32 256

For each model and batch size, a fresh process builds the model and an Adam optimizer, notes its
resident memory, runs two training steps on random images and reports how far its peak
resident memory (``ru_maxrss``) rose: the memory the step really took from the system. Beside
it the estimate of :func:`cnn.memory.measure_training_step`, made in a process of its own, and
their ratio. Linux only.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys

SETUP = """
import resource, sys
import numpy as np
from cnn.models.ready import READY_MODELS
from cnn.optim import Adam

name, batch = sys.argv[1], int(sys.argv[2])
model = READY_MODELS[name].model_class(seed=0)
optimizer = Adam(lr=1e-3)
"""

ESTIMATE = SETUP + """
from cnn.memory import measure_training_step
print(measure_training_step(model, optimizer, (1, 28, 28), batch).at(batch))
"""

MEASURE = SETUP + """
x = np.random.default_rng(0).random((batch, 1, 28, 28), dtype=np.float32)
t = np.arange(batch) % 10
with open("/proc/self/statm") as file:
    before = int(file.read().split()[1]) * resource.getpagesize()
for _ in range(2):
    model.train_step(x, t)
    optimizer.update(model.named_params(), model.named_grads())
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before)
"""


def run(program: str, name: str, batch: int) -> int:
    result = subprocess.run([sys.executable, "-c", program, name, str(batch)],
                            capture_output=True, text=True, check=True)
    return int(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["lenet", "deepconvnet"])
    parser.add_argument("--batches", nargs="+", type=int, default=[32, 128, 512, 1024, 4096])
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"{'model':<12} {'batch':>6} {'estimate MiB':>13} {'measured MiB':>13} {'ratio':>6}")
    for name in args.models:
        for batch in args.batches:
            estimate, measured = run(ESTIMATE, name, batch), run(MEASURE, name, batch)
            print(f"{name:<12} {batch:>6} {estimate / 2**20:>13.1f} {measured / 2**20:>13.1f} "
                  f"{estimate / measured:>6.2f}")


if __name__ == "__main__":
    main()
