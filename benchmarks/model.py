"""LeNet on full MNIST: seconds per training epoch, inference on the test set and peak memory.

Run by run.py in a child process per framework, so that each peak RSS is its own:
    python benchmarks/model.py cnn-ext --threads 2
    python benchmarks/model.py torch --threads 2
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path


from timing import median_seconds, peak_rss_mb

BATCH_SIZE = 128
DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "mnist"


def load_data():
    from cnn.datasets import load_mnist
    root = DATA_DIR if DATA_DIR.is_dir() else None
    return load_mnist(normalize=True, flatten=False, root=root)


def cnn_ext_run(data, epochs: int, inference_batch: int, threads: int) -> dict:
    import cnn_ext
    from cnn.models import LeNet
    from cnn.optim import Adam
    from cnn.trainer import Trainer

    cnn_ext.set_num_threads(threads)
    (x_train, t_train), (x_test, t_test) = data
    model = LeNet(seed=0)
    warmup = Trainer(model, Adam(lr=1e-3), batch_size=BATCH_SIZE, log=None, progress=False)
    warmup.fit(x_train[:20 * BATCH_SIZE], t_train[:20 * BATCH_SIZE], epochs=1)
    trainer = Trainer(model, Adam(lr=1e-3), batch_size=BATCH_SIZE, log=None, progress=False)
    history = trainer.fit(x_train, t_train, epochs=epochs)
    inference = median_seconds(lambda: model.predict_batches(x_test, inference_batch), 5, 1)
    return {"epoch_seconds": statistics.median(r["seconds"] for r in history),
            "inference_seconds": inference,
            "test_accuracy": model.accuracy(x_test, t_test)}


def torch_run(data, epochs: int, inference_batch: int, threads: int) -> dict:
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    (x_train, t_train), (x_test, t_test) = data
    x_train, t_train = torch.from_numpy(x_train), torch.from_numpy(t_train)
    x_test = torch.from_numpy(x_test)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(784, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_function = nn.CrossEntropyLoss()

    def train_epoch(count):
        model.train()
        order = torch.randperm(count)
        for start in range(0, count, BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            optimizer.zero_grad()
            loss_function(model(x_train[batch]), t_train[batch]).backward()
            optimizer.step()

    def predict():
        model.eval()
        with torch.no_grad():
            return torch.cat([model(x_test[start:start + inference_batch])
                              for start in range(0, len(x_test), inference_batch)])

    train_epoch(20 * BATCH_SIZE)
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        train_epoch(len(x_train))
        seconds.append(time.perf_counter() - started)
    inference = median_seconds(predict, 5, 1)
    accuracy = float((predict().argmax(1).numpy() == t_test).mean())
    return {"epoch_seconds": statistics.median(seconds), "inference_seconds": inference,
            "test_accuracy": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("framework", choices=["cnn-ext", "torch"])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (the median is kept)")
    parser.add_argument("--inference-batch", type=int, default=128)
    args = parser.parse_args()
    data = load_data()
    run = cnn_ext_run if args.framework == "cnn-ext" else torch_run
    result = run(data, args.epochs, args.inference_batch, args.threads)
    result.update(framework=args.framework, threads=args.threads, peak_rss_mb=peak_rss_mb())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
