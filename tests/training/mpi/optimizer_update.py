"""Run under mpiexec: DistributedOptimizer's update, each rank giving the gradient of its shard
of a global batch, against one process's Adam update of the whole batch (computed on every
rank). Prints ``update largest relative difference X`` on rank 0; exits 1 when any rank's
weights differ from one process's by more than 1e-12 relative, or the ranks' weights differ."""

import sys

import numpy as np

from cnn.distributed import DistributedOptimizer, World
from cnn.layers import Affine, Tanh
from cnn.models import Sequential
from cnn.optim import Adam

TOLERANCE = 1e-12


def model():
    return Sequential([Affine.create(5, 4, rng=1, dtype=np.float64), Tanh(),
                       Affine.create(4, 3, rng=2, dtype=np.float64)])


def main():
    world = World()
    rng = np.random.default_rng(0)
    distributed, single = model(), model()
    optimizer, reference = DistributedOptimizer(Adam(lr=0.05), world), Adam(lr=0.05)
    difference = 0.0
    for batch_size in (9, 4, world.size - 1 or 1):   # uneven shards, and an empty one
        x, t = rng.standard_normal((batch_size, 5)), rng.integers(0, 3, batch_size)
        mine = world.shard(batch_size)
        if len(x[mine]):
            distributed.train_step(x[mine], t[mine])
        optimizer.update(distributed.named_params(), distributed.named_grads(),
                         samples=len(x[mine]), batch_size=batch_size)
        single.train_step(x, t)
        reference.update(single.named_params(), single.named_grads())
        difference = max(difference, *(float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
                                       for a, b in zip(distributed.params, single.params)))
    world.check_same("weights", [param.tobytes() for param in distributed.params])
    if world.is_root:
        print(f"update largest relative difference {difference:.3g}", flush=True)
    failed = bool(world.sum([difference > TOLERANCE])[0])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
