"""LeNet on full MNIST: seconds per training epoch, inference on the test set, and memory.

Run by run.py in a child process per framework, so that each peak RSS is its own:
    python benchmarks/model.py cnn-ext --threads 2
    python benchmarks/model.py torch --threads 2
Prints one JSON object: the median epoch (batch 128, Adam), the median time to predict
the 10,000 test images in batches of 128 and of 1000, how far the resident memory rises
while predicting them in batches of 1000, and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path


from timing import median_seconds, peak_growth_mb, peak_rss_mb

BATCH_SIZE = 128
INFERENCE_BATCHES = (128, 1000)
DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "mnist"


def load_data():
    from cnn.datasets import load_mnist
    root = DATA_DIR if DATA_DIR.is_dir() else None
    return load_mnist(normalize=True, flatten=False, root=root)


def inference_figures(predict, release_cache=lambda: None) -> dict:
    """Median seconds of ``predict(batch_size)`` at each inference batch size, and the
    memory growth of one prediction in batches of 1000 after ``release_cache()`` (so that
    memory a framework kept from the timed runs counts too)."""
    figures = {f"inference_seconds_{size}": median_seconds(lambda: predict(size), 5, 1)
               for size in INFERENCE_BATCHES}
    release_cache()
    figures["predict_growth_mb"] = peak_growth_mb(lambda: predict(INFERENCE_BATCHES[-1]))
    return figures


def cnn_ext_run(data, epochs: int, threads: int) -> dict:
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
    return {"epoch_seconds": statistics.median(r["seconds"] for r in history),
            **inference_figures(lambda size: model.predict_batches(x_test, size),
                                cnn_ext.release_cached_memory),
            "test_accuracy": model.accuracy(x_test, t_test)}


def torch_run(data, epochs: int, threads: int) -> dict:
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

    def predict(batch_size):
        model.eval()
        with torch.no_grad():
            return torch.cat([model(x_test[start:start + batch_size])
                              for start in range(0, len(x_test), batch_size)])

    train_epoch(20 * BATCH_SIZE)
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        train_epoch(len(x_train))
        seconds.append(time.perf_counter() - started)
    figures = inference_figures(predict)
    accuracy = float((predict(BATCH_SIZE).argmax(1).numpy() == t_test).mean())
    return {"epoch_seconds": statistics.median(seconds), **figures, "test_accuracy": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("framework", choices=["cnn-ext", "torch"])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (the median is kept)")
    args = parser.parse_args()
    data = load_data()
    run = cnn_ext_run if args.framework == "cnn-ext" else torch_run
    result = run(data, args.epochs, args.threads)
    result.update(framework=args.framework, threads=args.threads, peak_rss_mb=peak_rss_mb())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
