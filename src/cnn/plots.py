"""Figures of a training run, written as PNG files. Needs matplotlib: ``pip install "cnn-ext[plot]"``."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from cnn.metrics import confusion_matrix


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend; ImportError with the install hint if absent."""
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError('matplotlib is needed for figures: pip install "cnn-ext[plot]"') from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _grid(count: int) -> tuple[int, int]:
    columns = int(np.ceil(np.sqrt(count)))
    return int(np.ceil(count / columns)), columns


def plot_history(history: Sequence[dict], path: str | os.PathLike) -> None:
    """Loss and accuracy per epoch, train and test, side by side."""
    plt = _pyplot()
    epochs = [record["epoch"] for record in history]
    figure, (loss_axes, acc_axes) = plt.subplots(1, 2, figsize=(10, 4))
    for axes, metric, label in ((loss_axes, "loss", "loss"), (acc_axes, "acc", "accuracy")):
        axes.plot(epochs, [r[f"train_{metric}"] for r in history], "o-", label="train")
        if history and history[0].get(f"test_{metric}") is not None:
            axes.plot(epochs, [r[f"test_{metric}"] for r in history], "s-", label="test")
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_filters(weights: np.ndarray, path: str | os.PathLike) -> None:
    """The first channel of each convolution filter, weights (out_channels, in_channels, fh, fw)."""
    plt = _pyplot()
    rows, columns = _grid(weights.shape[0])
    figure, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.6 * rows), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < weights.shape[0]:
            axis.imshow(weights[index, 0], cmap="gray")
            axis.set_title(f"filter {index}", fontsize=8)
    figure.suptitle("first convolution's filters")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int,
                          path: str | os.PathLike) -> None:
    """A heat map of counts: row = true class, column = predicted class."""
    plt = _pyplot()
    counts = confusion_matrix(labels, predictions, num_classes)
    figure, axis = plt.subplots(figsize=(6, 5.5))
    image = axis.imshow(counts, cmap="Blues")
    for (row, column), count in np.ndenumerate(counts):
        color = "white" if count > counts.max() / 2 else "black"
        axis.text(column, row, str(count), ha="center", va="center", fontsize=7, color=color)
    axis.set_xticks(range(num_classes))
    axis.set_yticks(range(num_classes))
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    figure.colorbar(image)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_misclassified(images: np.ndarray, labels: np.ndarray, predictions: np.ndarray,
                       path: str | os.PathLike, limit: int = 36) -> None:
    """Up to ``limit`` wrongly classified images (N, 1, H, W) with their true and predicted labels."""
    plt = _pyplot()
    wrong = np.flatnonzero(labels != predictions)[:limit]
    rows, columns = _grid(max(len(wrong), 1))
    figure, axes = plt.subplots(rows, columns, figsize=(1.5 * columns, 1.7 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, index in zip(axes.flat, wrong):
        axis.imshow(images[index].reshape(images.shape[-2:]), cmap="gray_r")
        axis.set_title(f"true {labels[index]} / pred {predictions[index]}", fontsize=7)
    total = int(np.sum(labels != predictions))
    figure.suptitle(f"{len(wrong)} of {total} misclassified test images" if total
                    else "no misclassified images")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
