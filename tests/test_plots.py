"""cnn.plots: every figure is returned (for a notebook) and written as a PNG when given a path."""

import numpy as np
import pytest

from cnn import plots

matplotlib = pytest.importorskip("matplotlib", reason="figures need the plot extra")
PNG = b"\x89PNG\r\n\x1a\n"


def test_every_figure_is_returned_and_written(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 200)
    predictions = np.where(rng.random(200) < 0.8, labels, (labels + 3) % 10)
    scores = rng.random((200, 10))
    history = [{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "test_loss": 0.9, "test_acc": 0.6},
               {"epoch": 2, "train_loss": 0.5, "train_acc": 0.8, "test_loss": 0.6, "test_acc": 0.7}]
    figures = {
        "history": plots.plot_history(history, tmp_path / "history.png"),
        "filters": plots.plot_filters(rng.standard_normal((6, 1, 5, 5)), tmp_path / "filters.png",
                                      before=rng.standard_normal((6, 1, 5, 5))),
        "maps": plots.plot_feature_maps(rng.random((4, 8, 8)), tmp_path / "maps.png"),
        "confusion": plots.plot_confusion_matrix(labels, predictions, 10, tmp_path / "confusion.png"),
        "misclassified": plots.plot_misclassified(rng.random((200, 1, 28, 28)), labels, predictions,
                                                  tmp_path / "misclassified.png",
                                                  probabilities=scores / scores.sum(1, keepdims=True)),
        "digits": plots.plot_digits(rng.random((12, 784)), list(range(12)), tmp_path / "digits.png"),
    }
    for name, figure in figures.items():
        assert isinstance(figure, matplotlib.figure.Figure), name
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == PNG, name
    errors = int(np.sum(labels != predictions))
    assert figures["confusion"].axes[0].get_title().startswith(f"{errors} errors of 200")
    titles = [axis.get_title() for axis in figures["misclassified"].axes if axis.get_title()]
    assert titles and all("sure" in title and "said" in title for title in titles)
    image_axes = [axis for axis in figures["filters"].axes if axis.images]
    assert len(image_axes) == 12  # two rows of six: before and after


def test_the_confusion_matrix_colours_only_the_errors():
    labels = np.array([0, 0, 0, 1, 1, 2])
    predictions = np.array([0, 0, 1, 1, 1, 2])
    axis = plots.plot_confusion_matrix(labels, predictions, 3).axes[0]
    errors = axis.images[-1].get_array()  # the layer with the colour scale
    assert np.ma.is_masked(errors[0, 0]) or np.isnan(errors[0, 0])  # the diagonal is not on it
    assert errors[0, 1] == 1
