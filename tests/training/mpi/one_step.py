"""Run under mpiexec: one distributed training step of LeNet in float64 against the same step
in one process (computed on rank 0), for global batches that the ranks split evenly, unevenly
and with empty shards; then distributed prediction against one process's. Prints one line per
case: ``case NAME largest relative difference X``; exits 1 when a case differs by more than
1e-10 relative."""

import sys

import numpy as np

from cnn.distributed import World, predict_batches
from cnn.models import LeNet
from cnn.optim import Adam
from cnn.trainer import Trainer

TOLERANCE = 1e-10


def trained(batch_size, x, t, world=None):
    model = LeNet(seed=3, dtype="float64")
    trainer = Trainer(model, Adam(lr=0.01), batch_size=batch_size, seed=5, log=None,
                      progress=False, train_sample=len(x), world=world)
    trainer.fit(x, t, epochs=1)
    return model, trainer.history[0]


def largest_relative_difference(ours, reference):
    return max(float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))
               for a, b in zip(ours, reference))


def main():
    world = World()
    rng = np.random.default_rng(0)
    failed = False
    for batch_size in (12, 7, world.size - 1 or 1):
        x = rng.random((batch_size, 1, 28, 28))   # one step: a single global batch
        t = rng.integers(0, 10, batch_size)
        model, record = trained(batch_size, x, t, world)
        if world.is_root:
            reference, expected = trained(batch_size, x, t)
            difference = largest_relative_difference(model.params, reference.params)
            loss_difference = abs(record["train_loss"] - expected["train_loss"])
            print(f"case batch {batch_size} on {world.size} ranks largest relative difference "
                  f"{difference:.3g} (loss {loss_difference:.3g})", flush=True)
            failed |= not (difference <= TOLERANCE and loss_difference <= 1e-12
                           and record["train_acc"] == expected["train_acc"])
        world.check_same("weights", [param.tobytes() for param in model.params])
    x = rng.random((29, 1, 28, 28))
    scores = predict_batches(model, x, world, batch_size=4)
    everywhere = predict_batches(model, x, world, batch_size=5, root=None)
    single = model.predict_batches(x)
    difference = largest_relative_difference([everywhere], [single])
    if world.is_root:
        difference = max(difference, largest_relative_difference([scores], [single]))
        print(f"case prediction largest relative difference {difference:.3g}", flush=True)
    else:
        failed |= scores is not None
    failed |= not difference <= TOLERANCE
    failed = bool(world.sum([failed])[0])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
