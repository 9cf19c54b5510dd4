"""Data-parallel training on one machine, measured, and a cost model for many machines.

    python benchmarks/distributed.py                 # LeNet and DeepConvNet, about 3 minutes
    python benchmarks/distributed.py --model lenet --images 12000

For each model it trains one epoch of the first ``--images`` MNIST training images twice, each
run in processes of its own: one process with the kernels on 2 threads, and ``mpiexec -n 2``
with one thread per rank. It prints the seconds per epoch and per step, the time per step spent
in the gradients' Allreduce, and then a cost model for 8 and 64 machines: the measured compute
per sample of one 2-core machine, split over the machines (strong scaling at the model's global
batch), plus a ring allreduce of the gradient bytes, ``2 (P - 1) / P * bytes / bandwidth`` and
``2 (P - 1)`` messages of ``LATENCY`` each, at 10 and 100 Gbit/s, and the number of machines
(at most the global batch: one sample each) past which adding machines makes a step slower.
The measured allreduce time is the time spent in the call, waiting for the slower rank included.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
MODELS = {"lenet": 12000, "deepconvnet": 3000}
LATENCY = {10: 20e-6, 100: 5e-6}  # seconds per message: Ethernet, and an RDMA fabric
MACHINES = (8, 64)


def worker(model_name: str, images: int) -> None:
    """One epoch of ``model_name`` (the main job's settings) in this process or MPI job; rank 0
    prints a JSON line of what it measured."""
    from cnn.datasets import load_mnist
    from cnn.distributed import World, launched_by_mpiexec
    from cnn.optim import Adam
    from cnn.models.ready import READY_MODELS
    from cnn.train import AUGMENTATION
    from cnn.trainer import Trainer
    import cnn_ext

    world = World() if launched_by_mpiexec() else None
    ready = READY_MODELS[model_name]
    (x, t), _ = load_mnist(normalize=True, flatten=False, root=REPOSITORY / "data" / "mnist",
                           download=False)
    x, t = x[:images], t[:images]
    model = ready.model_class(seed=0)
    trainer = Trainer(model, Adam(lr=ready.adam_lr), batch_size=ready.batch_size,
                      seed=0, log=None, progress=False, train_sample=100, world=world,
                      augment=AUGMENTATION if ready.augment else None)
    trainer.fit(x, t, epochs=1)
    record = trainer.history[0]
    if world is None or world.is_root:
        steps = -(-images // ready.batch_size)
        print(json.dumps({"ranks": 1 if world is None else world.size,
                          "threads": cnn_ext.get_num_threads(), "seconds": record["seconds"],
                          "steps": steps, "batch": ready.batch_size,
                          "allreduce_ms": record.get("allreduce_ms", 0.0),
                          "gradient_bytes": int(sum(p.nbytes for p in model.params)),
                          "simd": cnn_ext.simd_path()}))


def measure(model_name: str, images: int, ranks: int) -> dict:
    command = [sys.executable, __file__, "--worker", "--model", model_name, "--images", str(images)]
    env = dict(os.environ)
    if ranks == 1:
        env["CNN_EXT_NUM_THREADS"] = "2"
    else:
        mpiexec = Path(sys.executable).parent / "mpiexec"
        command = [str(mpiexec) if mpiexec.exists() else "mpiexec", "-n", str(ranks)] + command
        env["CNN_EXT_NUM_THREADS"] = "1"
        env["MPIEXEC_TIMEOUT"] = "1200"
    output = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def cost_model(single: dict, machines: int, gbits: int) -> tuple[float, float, float]:
    """``(compute_ms, allreduce_ms, speedup)`` per global step on ``machines`` machines."""
    compute = single["seconds"] / single["steps"] / machines
    bytes_moved = 2 * (machines - 1) / machines * single["gradient_bytes"]
    allreduce = bytes_moved / (gbits * 1e9 / 8) + 2 * (machines - 1) * LATENCY[gbits]
    return 1000 * compute, 1000 * allreduce, single["seconds"] / single["steps"] / (compute + allreduce)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), action="append")
    parser.add_argument("--images", type=int, default=None)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = args.model or list(MODELS)
    if args.worker:
        worker(names[0], args.images)
        return
    for name in names:
        images = args.images or MODELS[name]
        results = {}
        for ranks in (1, 2):
            started = time.perf_counter()
            results[ranks] = measure(name, images, ranks)
            results[ranks]["wall"] = time.perf_counter() - started
        single = results[1]
        print(f"\n{name}: one epoch of {images} images, batch {single['batch']}, "
              f"{single['gradient_bytes']:,} gradient bytes, simd path {single['simd']}")
        for ranks, result in results.items():
            print(f"  {ranks} rank(s) x {result['threads']} thread(s): epoch {result['seconds']:.2f} s, "
                  f"{1000 * result['seconds'] / result['steps']:.2f} ms per step, allreduce "
                  f"{result['allreduce_ms']:.3f} ms per step")
        print(f"  2 ranks / 1 rank: {results[2]['seconds'] / single['seconds']:.2f}x the time")
        for gbits in LATENCY:
            for machines in MACHINES:
                compute, allreduce, speedup = cost_model(single, machines, gbits)
                shard = single["batch"] / machines
                print(f"  model, {machines} machines at {gbits} Gbit/s: compute {compute:.2f} ms + "
                      f"allreduce {allreduce:.2f} ms per step, {speedup:.1f}x one machine "
                      f"({shard:g} samples per machine per step)")
            best = max(range(1, single["batch"] + 1),
                       key=lambda machines: cost_model(single, machines, gbits)[2])
            print(f"  model, at {gbits} Gbit/s scaling stops at {best} machines: "
                  f"{cost_model(single, best, gbits)[2]:.1f}x one machine (at most "
                  f"{single['batch']} machines: one sample each)")


if __name__ == "__main__":
    main()
