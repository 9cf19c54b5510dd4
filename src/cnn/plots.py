"""Figures of a model and its training. Needs matplotlib: ``pip install "cnn-ext[plot]"``.

Every function returns a ``matplotlib.figure.Figure`` (a notebook shows it inline) and, given a
``path``, also writes it there as a PNG, atomically. The figures are built without pyplot, so they open no
window and leave matplotlib's global state alone.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np

from cnn.layers import Relu
from cnn.metrics import confusion_matrix
from cnn.storage import atomic_write

__all__ = ["plot_history", "plot_filters", "plot_feature_maps", "plot_confusion_matrix",
           "plot_misclassified", "plot_digits", "plot_activations"]

FigurePath = Optional[str | os.PathLike]


def _figure(width: float, height: float):
    """A new Figure; ImportError with the install hint without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError('matplotlib is needed for figures: pip install "cnn-ext[plot]"') from error
    return Figure(figsize=(width, height), layout="constrained")


def _finish(figure, path: FigurePath):
    """Write ``figure`` to ``path`` atomically (a file is whole or absent, even after Ctrl-C)."""
    if path is not None:
        suffix = os.path.splitext(os.fspath(path))[1]
        atomic_write(path, lambda file: figure.savefig(file, dpi=100, format=suffix[1:] or "png"),
                     suffix)
    return figure


def _grid(count: int, columns: Optional[int] = None) -> tuple[int, int]:
    columns = columns or int(np.ceil(np.sqrt(count)))
    return int(np.ceil(count / columns)), columns


def plot_history(history: Sequence[dict], path: FigurePath = None):
    """Loss and accuracy per epoch, train, validation and test, side by side (``Trainer.fit``'s
    history; the validation and test curves where the history has them)."""
    figure = _figure(10, 4)
    loss_axes, acc_axes = figure.subplots(1, 2)
    epochs = [record["epoch"] for record in history]
    for axes, metric, label in ((loss_axes, "loss", "loss"), (acc_axes, "acc", "accuracy")):
        axes.plot(epochs, [r[f"train_{metric}"] for r in history], "o-", label="train")
        for kind, marker, name in (("val", "^-", "validation"), ("test", "s-", "test")):
            if history and history[0].get(f"{kind}_{metric}") is not None:
                axes.plot(epochs, [r[f"{kind}_{metric}"] for r in history], marker, label=name)
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        axes.legend()
    return _finish(figure, path)


def plot_filters(weights: np.ndarray, path: FigurePath = None, before: Optional[np.ndarray] = None):
    """The first channel of each convolution filter, weights (out_channels, in_channels, fh, fw),
    on one diverging colour scale centred at 0 (red positive, blue negative). With ``before``
    (the same filters at initialisation) the two sets are drawn in two rows for comparison."""
    sets = [("after training", weights)] if before is None else [("before", before), ("after", weights)]
    count = weights.shape[0]
    limit = max(float(np.abs(array[:, 0]).max()) for _, array in sets) or 1.0
    figure = _figure(1.3 * count + 1.2, 1.5 * len(sets) + 0.6)
    axes = figure.subplots(len(sets), count, squeeze=False)
    for row, (title, array) in enumerate(sets):
        for index in range(count):
            axis = axes[row, index]
            image = axis.imshow(array[index, 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(f"filter {index}", fontsize=10)
        axes[row, 0].set_ylabel(title, fontsize=10)
    figure.colorbar(image, ax=axes, shrink=0.8, label="weight")
    figure.suptitle("first convolution's filters")
    return _finish(figure, path)


def plot_feature_maps(maps: np.ndarray, path: FigurePath = None, title: str = "feature maps",
                      names: Optional[Sequence[str]] = None, columns: Optional[int] = None):
    """The channels of one image's activations, maps (C, H, W), each with its own grey scale."""
    rows, columns = _grid(maps.shape[0], columns)
    figure = _figure(2.0 * columns, 2.1 * rows + 0.4)
    axes = figure.subplots(rows, columns, squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < maps.shape[0]:
            axis.imshow(maps[index], cmap="gray")
            axis.set_title(names[index] if names else f"channel {index}", fontsize=10)
    figure.suptitle(title)
    return _finish(figure, path)


def plot_confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int,
                          path: FigurePath = None):
    """Counts of true (rows) against predicted (columns) classes. The errors (off the diagonal)
    have a colour scale of their own, so they show at a glance; the correct counts on the
    diagonal are written in grey cells."""
    counts = confusion_matrix(labels, predictions, num_classes)
    errors = counts.astype(float)
    np.fill_diagonal(errors, np.nan)
    figure = _figure(7, 6)
    axis = figure.subplots()
    axis.imshow(np.where(np.eye(num_classes, dtype=bool), 1.0, np.nan), cmap="Greys", vmin=0, vmax=4)
    image = axis.imshow(errors, cmap="Reds", vmin=0, vmax=max(1.0, np.nanmax(errors)))
    for (row, column), count in np.ndenumerate(counts):
        strong = row != column and count > 0.6 * np.nanmax(errors)
        axis.text(column, row, str(count), ha="center", va="center", fontsize=10,
                  color="white" if strong else "black", weight="bold" if row == column else None)
    axis.set_xticks(range(num_classes))
    axis.set_yticks(range(num_classes))
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    accuracy = np.trace(counts) / max(1, counts.sum())
    axis.set_title(f"{counts.sum() - np.trace(counts)} errors of {counts.sum()} (accuracy {accuracy:.2%})")
    figure.colorbar(image, ax=axis, label="wrong predictions")
    return _finish(figure, path)


def plot_misclassified(images: np.ndarray, labels: np.ndarray, predictions: np.ndarray,
                       path: FigurePath = None, limit: int = 24, probabilities: Optional[np.ndarray] = None):
    """Up to ``limit`` wrongly classified images (N, ...) with their true and predicted labels, and
    with ``probabilities`` (N, classes) the confidence of each wrong prediction."""
    wrong = np.flatnonzero(labels != predictions)[:limit]
    rows, columns = _grid(max(len(wrong), 1), min(8, max(len(wrong), 1)))
    figure = _figure(1.7 * columns, 2.0 * rows + 0.5)
    axes = figure.subplots(rows, columns, squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    side = int(round(np.sqrt(images[0].size)))
    for axis, index in zip(axes.flat, wrong):
        axis.imshow(images[index].reshape(side, side), cmap="gray_r")
        title = f"true {labels[index]}, said {predictions[index]}"
        if probabilities is not None:
            title += f"\n{probabilities[index, predictions[index]]:.0%} sure"
        axis.set_title(title, fontsize=10)
    total = int(np.sum(labels != predictions))
    figure.suptitle(f"{len(wrong)} of {total} misclassified images" if total else
                    "no misclassified images")
    return _finish(figure, path)


def plot_digits(images: np.ndarray, labels: Sequence, path: FigurePath = None, columns: int = 10):
    """A grid of images (N, ...) of square digits, each titled with its label."""
    rows, columns = _grid(len(images), min(columns, len(images)))
    figure = _figure(1.2 * columns, 1.35 * rows)
    axes = figure.subplots(rows, columns, squeeze=False)
    side = int(round(np.sqrt(images[0].size)))
    for axis in axes.flat:
        axis.axis("off")
    for axis, image, label in zip(axes.flat, images, labels):
        axis.imshow(np.reshape(image, (side, side)), cmap="gray_r")
        axis.set_title(str(label), fontsize=11)
    return _finish(figure, path)


def plot_activations(model, x: np.ndarray, path: FigurePath = None,
                     layers: Optional[Sequence[int]] = None, bins: int = 30,
                     value_range: Optional[tuple[float, float]] = None,
                     title: Optional[str] = None):
    """A histogram per layer of the activations a batch gives, side by side: the figure of the
    book's chapter 6, where the initial weights decide whether they saturate, vanish or spread.

    Args:
        model: a :class:`~cnn.models.Sequential`.
        x: a batch of samples (N, ...), run through the model in inference mode.
        path: where to write the figure as a PNG (optional).
        layers: indices of the layers whose outputs are drawn (default: every activation layer,
            those whose class sets ``activation``, or every layer if the model has none).
        bins: bars per histogram.
        value_range: the range of values the histograms share; default, from the smallest to the
            largest activation drawn, so that the layers compare on one axis.
        title: a title above the panels.

    Each panel names its layer and the spread (standard deviation) of its activations. A ReLU
    gives zero for about half its inputs: its panel says what share, and draws the others, whose
    bars a spike at zero would flatten.
    """
    outputs = model.layer_outputs(x)
    if layers is None:
        layers = [index for index, layer in enumerate(model.layers)
                  if layer.activation] or list(range(len(model.layers)))
    layers = [_layer_index(index, len(model.layers)) for index in layers]
    if not layers:
        raise ValueError("layers must name at least one layer, got an empty list")
    drawn = [_drawn_values(model.layers[index], outputs[index].ravel()) for index in layers]
    if value_range is None:
        value_range = (min((float(values.min()) for values in drawn if values.size), default=0.0),
                       max((float(values.max()) for values in drawn if values.size), default=1.0))
    figure = _figure(2.4 * len(layers) + 0.4, 2.6)
    axes = figure.subplots(1, len(layers), squeeze=False)[0]
    for axis, index, values in zip(axes, layers, drawn):
        layer, everything = model.layers[index], outputs[index]
        axis.hist(values, bins=bins, range=value_range, color="tab:blue")
        note = f"std {everything.std():.3g}"
        if isinstance(layer, Relu):
            note += f", {np.mean(everything == 0):.0%} zero (not drawn)"
        axis.set_title(f"layers[{index}] {layer.name}\n{note}", fontsize=9)
        axis.set_yticks([])
        axis.set_xlabel("activation", fontsize=9)
    if title is not None:
        figure.suptitle(title)
    return _finish(figure, path)


def _drawn_values(layer, values: np.ndarray) -> np.ndarray:
    """The activations a histogram draws: all of them, but a ReLU's zeros."""
    return values[values != 0] if isinstance(layer, Relu) else values


def _layer_index(index, count: int) -> int:
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)) \
            or not -count <= index < count:
        raise ValueError(f"layers must hold indices of the model's {count} layers, got {index!r}")
    return int(index) % count
