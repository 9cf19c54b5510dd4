"""The main job's recipe in PyTorch, for the side-by-side figures of the guide "From LeNet to the
book's deep network": the same network, initialisation rule, optimizer, cosine schedule, batch
size, epochs and augmentation (cnn.augment's RandomShift on the same NumPy batches).

    python benchmarks/train_torch.py --model deepconvnet --threads 2 --seed 0
    python benchmarks/train_torch.py --model lenet

Prints one line per epoch and ends with "test accuracy: 0.XXXX", as cnn-train does.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from cnn.augment import RandomShift
from cnn.datasets import load_mnist
from cnn.models.ready import READY_MODELS
from model import torch_model

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "mnist"


def main() -> None:
    import torch
    from torch import nn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["lenet", "deepconvnet"], default="deepconvnet")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args()
    ready = READY_MODELS[args.model]
    epochs, batch_size, lr = args.epochs or ready.epochs, ready.batch_size, ready.adam_lr
    augment = RandomShift(2) if ready.augment else None

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    (x_train, t_train), (x_test, t_test) = load_mnist(flatten=False, root=DATA_DIR, download=False)
    model = torch_model(args.model)
    for module in model.modules():  # He initialisation and zero biases, as cnn's models
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_function = nn.CrossEntropyLoss()
    order_rng = np.random.default_rng(args.seed)
    augment_rng = np.random.default_rng([args.seed, 1])
    x_test_tensor = torch.from_numpy(x_test)
    started = time.perf_counter()
    for epoch in range(epochs):
        for group in optimizer.param_groups:  # the cosine of cnn.schedules.cosine, per epoch
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
        epoch_started = time.perf_counter()
        model.train()
        order = order_rng.permutation(len(x_train))
        for start in range(0, len(x_train), batch_size):
            batch = order[start:start + batch_size]
            images = x_train[batch] if augment is None else augment(x_train[batch], augment_rng)
            optimizer.zero_grad()
            loss = loss_function(model(torch.from_numpy(images)), torch.from_numpy(t_train[batch]))
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            scores = torch.cat([model(x_test_tensor[start:start + 1000])
                                for start in range(0, len(x_test), 1000)])
        accuracy = float((scores.argmax(1).numpy() == t_test).mean())
        print(f"| epoch {epoch + 1} | test acc {accuracy:.4f} | {time.perf_counter() - epoch_started:.1f} s",
              flush=True)
    print(f"trained in {time.perf_counter() - started:.1f} s")
    print(f"test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
