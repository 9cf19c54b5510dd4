"""LeNet, the book's DeepConvNet or cnn.models.ResNet on full MNIST: seconds per training epoch
and step, inference on the test set, and memory.

Run by run.py in a child process per framework, so that each peak RSS is its own:
    python benchmarks/model.py cnn-ext --threads 2
    python benchmarks/model.py torch --threads 2
    python benchmarks/model.py cnn-ext --model deepconvnet --epochs 1
    python benchmarks/model.py torch --model resnet --epochs 1
Prints one JSON object: the median epoch (LeNet: batch 128; the others: batch 100; Adam)
and the mean training step within it, the median time to predict the 10,000 test images in
batches of 128 and of 1000, how far the resident memory rises while predicting them in
batches of 1000, and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path


from timing import median_seconds, peak_growth_mb, peak_rss_mb

BATCH_SIZES = {"lenet": 128, "deepconvnet": 100, "resnet": 100}
INFERENCE_BATCHES = (128, 1000)
# The convolutions (3x3: out channels, pad) and 2x2 max poolings of the book's DeepConvNet
# (cnn.models.DeepConvNet), for PyTorch's copy of it.
DEEP_CONV_NET = [(16, 1), (16, 1), "pool", (32, 1), (32, 2), "pool", (64, 1), (64, 1), "pool"]
# The stages of cnn.models.ResNet: output channels and stride.
RESNET_STAGES = ((16, 1), (32, 2), (64, 2))
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


def cnn_ext_run(data, model_name: str, epochs: int, threads: int) -> dict:
    import cnn_ext
    from cnn.models import DeepConvNet, LeNet, ResNet
    from cnn.optim import Adam
    from cnn.trainer import Trainer

    cnn_ext.set_num_threads(threads)
    (x_train, t_train), (x_test, t_test) = data
    batch = BATCH_SIZES[model_name]
    model = {"lenet": LeNet, "deepconvnet": DeepConvNet, "resnet": ResNet}[model_name](seed=0)
    warmup = Trainer(model, Adam(lr=1e-3), batch_size=batch, log=None, progress=False)
    warmup.fit(x_train[:20 * batch], t_train[:20 * batch], epochs=1)
    trainer = Trainer(model, Adam(lr=1e-3), batch_size=batch, log=None, progress=False)
    history = trainer.fit(x_train, t_train, epochs=epochs)
    epoch = statistics.median(record["seconds"] for record in history)
    return {"epoch_seconds": epoch, "step_ms": epoch / -(-len(x_train) // batch) * 1e3,
            **inference_figures(lambda size: model.predict_batches(x_test, size),
                                cnn_ext.release_cached_memory),
            "test_accuracy": model.accuracy(x_test, t_test), "simd": cnn_ext.simd_path()}


def torch_resnet():
    """PyTorch's copy of cnn.models.ResNet with its default stages."""
    from torch import nn

    class Block(nn.Module):
        def __init__(self, channels_in: int, channels: int, stride: int) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(channels_in, channels, 3, stride, 1), nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True), nn.Conv2d(channels, channels, 3, 1, 1),
                nn.BatchNorm2d(channels))
            self.shortcut = nn.Identity() if (channels_in, stride) == (channels, 1) else \
                nn.Sequential(nn.Conv2d(channels_in, channels, 1, stride), nn.BatchNorm2d(channels))

        def forward(self, x):
            return nn.functional.relu(self.body(x) + self.shortcut(x))

    layers, channels = [nn.Conv2d(1, 16, 3, 1, 1), nn.BatchNorm2d(16), nn.ReLU(inplace=True)], 16
    for stage_channels, stride in RESNET_STAGES:
        layers.append(Block(channels, stage_channels, stride))
        channels = stage_channels
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 10))


def torch_model(model_name: str):
    from torch import nn
    if model_name == "resnet":
        return torch_resnet()
    if model_name == "lenet":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(784, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10))
    layers, channels = [], 1
    for item in DEEP_CONV_NET:
        if item == "pool":
            layers.append(nn.MaxPool2d(2))
            continue
        out_channels, pad = item
        layers += [nn.Conv2d(channels, out_channels, 3, padding=pad), nn.ReLU()]
        channels = out_channels
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(1024, 50), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(50, 10), nn.Dropout(0.5))


def torch_run(data, model_name: str, epochs: int, threads: int) -> dict:
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    (x_train, t_train), (x_test, t_test) = data
    x_train, t_train = torch.from_numpy(x_train), torch.from_numpy(t_train)
    x_test = torch.from_numpy(x_test)
    batch_size = BATCH_SIZES[model_name]
    model = torch_model(model_name)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_function = nn.CrossEntropyLoss()

    def train_epoch(count):
        model.train()
        order = torch.randperm(count)
        for start in range(0, count, batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()
            loss_function(model(x_train[batch]), t_train[batch]).backward()
            optimizer.step()

    def predict(batch_size):
        model.eval()
        with torch.no_grad():
            return torch.cat([model(x_test[start:start + batch_size])
                              for start in range(0, len(x_test), batch_size)])

    train_epoch(20 * batch_size)
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        train_epoch(len(x_train))
        seconds.append(time.perf_counter() - started)
    figures = inference_figures(predict)
    accuracy = float((predict(batch_size).argmax(1).numpy() == t_test).mean())
    epoch = statistics.median(seconds)
    return {"epoch_seconds": epoch, "step_ms": epoch / -(-len(x_train) // batch_size) * 1e3,
            **figures, "test_accuracy": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("framework", choices=["cnn-ext", "torch"])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--model", choices=sorted(BATCH_SIZES), default="lenet")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (the median is kept)")
    args = parser.parse_args()
    data = load_data()
    run = cnn_ext_run if args.framework == "cnn-ext" else torch_run
    result = run(data, args.model, args.epochs, args.threads)
    result.update(framework=args.framework, model=args.model, threads=args.threads,
                  peak_rss_mb=peak_rss_mb())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
