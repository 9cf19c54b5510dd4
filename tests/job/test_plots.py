"""cnn.plots: every figure is returned (for a notebook) and written as a PNG when given a path."""

import numpy as np
import pytest

from cnn import plots
from extras import optional

matplotlib = optional("matplotlib", 'figures need the plot extra: pip install "cnn-ext[plot]"')
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


def book_network(activation, std, seed=0):
    """The book's chapter-6 experiment: five affine layers of 100 units, each followed by
    ``activation``, with weights of standard deviation ``std``."""
    from cnn.layers import Affine
    from cnn.models import Sequential
    rng = np.random.default_rng(seed)
    layers = []
    for _ in range(5):
        layers += [Affine(rng.standard_normal((100, 100)) * std, np.zeros(100)), activation()]
    return Sequential(layers)


def histogram_counts(figure):
    return [sum(patch.get_height() for patch in axis.patches) for axis in figure.axes]


def test_the_activation_histograms_show_each_activation_layer(tmp_path):
    from cnn.layers import Relu, Sigmoid
    x = np.random.default_rng(1).standard_normal((1000, 100))
    model = book_network(Sigmoid, 1.0)
    figure = plots.plot_activations(model, x, tmp_path / "activations.png", title="std 1")
    assert (tmp_path / "activations.png").read_bytes()[:8] == PNG
    assert [axis.get_title().split("\n")[0] for axis in figure.axes] == \
        [f"layers[{index}] Sigmoid" for index in (1, 3, 5, 7, 9)]
    assert histogram_counts(figure) == [100_000] * 5  # every activation in a bar
    # With a standard deviation of 1 the sigmoids saturate: most values near 0 or 1.
    last = model.layer_outputs(x)[9]
    assert np.mean((last < 0.1) | (last > 0.9)) > 0.5
    stds = [float(axis.get_title().split("std ")[1]) for axis in figure.axes]
    assert np.allclose(stds, [output.std() for output in model.layer_outputs(x)[1::2]], rtol=1e-2)
    network = book_network(Relu, np.sqrt(2 / 100))
    relu = plots.plot_activations(network, x, layers=[1, -1])
    assert [axis.get_title().split("\n")[0] for axis in relu.axes] == ["layers[1] Relu", "layers[9] Relu"]
    outputs = network.layer_outputs(x)
    for axis, output in zip(relu.axes, (outputs[1], outputs[9])):
        assert f"{np.mean(output == 0):.0%} zero (not drawn)" in axis.get_title()
    assert histogram_counts(relu) == [np.count_nonzero(outputs[1]), np.count_nonzero(outputs[9])]
    with pytest.raises(ValueError, match=r"layers must hold indices of the model's 10 layers, got 10"):
        plots.plot_activations(model, x, layers=[10])


def test_layer_outputs_are_copies_taken_in_inference_mode():
    from cnn.models import LeNet
    model = LeNet(seed=0)
    x = np.random.default_rng(2).random((3, 1, 28, 28)).astype(np.float32)
    outputs = model.layer_outputs(x)
    expected = x
    for layer, output in zip(model.layers, outputs):
        expected = layer.forward(expected.copy(), train=False)
        assert np.array_equal(output, expected), layer
    assert (outputs[0] < 0).any()  # the convolution's output, not overwritten by its in-place ReLU
    assert np.array_equal(outputs[-1], model.predict(x))
    assert np.array_equal(model.layer_outputs(x.reshape(3, 784))[-1], outputs[-1])
