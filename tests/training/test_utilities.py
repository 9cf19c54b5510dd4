"""Small helpers: confusion matrix, progress bar, schedules, initialisers."""

import io

import numpy as np
import pytest

from cnn import init
from cnn.metrics import confusion_matrix
from cnn.progress import ProgressBar
from cnn.schedules import cosine, step_decay


def test_confusion_matrix_counts_pairs():
    labels = np.array([0, 1, 2, 2, 1, 0, 2])
    predictions = np.array([0, 2, 2, 1, 1, 0, 2])
    expected = np.zeros((3, 3), int)
    for true, predicted in zip(labels, predictions):
        expected[true, predicted] += 1
    np.testing.assert_array_equal(confusion_matrix(labels, predictions, 3), expected)
    with pytest.raises(ValueError, match="predictions must lie in"):
        confusion_matrix(labels, predictions + 1, 3)


def test_progress_bar_draws_only_when_enabled():
    stream = io.StringIO()
    with ProgressBar(4, "epoch 1", stream=stream, enabled=True) as bar:
        for _ in range(4):
            bar.update(1, loss=0.5)
    assert "epoch 1 [" in stream.getvalue() and "4/4" in stream.getvalue()
    assert "loss 0.5000" in stream.getvalue()
    silent = io.StringIO()
    with ProgressBar(4, stream=silent) as bar:  # a StringIO is not a terminal
        bar.update(4)
    assert silent.getvalue() == ""


def test_schedules():
    schedule = cosine(0.1, 10)
    assert schedule(0) == pytest.approx(0.1)
    assert schedule(5) == pytest.approx(0.05)
    assert schedule(10) == pytest.approx(0.0)
    assert [step_decay(1.0, 0.5, 2)(epoch) for epoch in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    with pytest.raises(ValueError, match="epochs"):
        cosine(0.1, 0)


@pytest.mark.parametrize("initializer, expected_std", [
    (init.he_normal, np.sqrt(2 / 150)),
    (init.he_uniform, np.sqrt(2 / 150)),
    (init.glorot_normal, np.sqrt(2 / (150 + 800))),
    (init.glorot_uniform, np.sqrt(2 / (150 + 800))),
])
def test_initialisers_scale_by_fan_in_and_fan_out(initializer, expected_std):
    # Convolution weights (32, 6, 5, 5): fan_in = 6*5*5 = 150, fan_out = 32*5*5 = 800.
    weights = initializer((32, 6, 5, 5), np.random.default_rng(0), np.float32)
    assert weights.dtype == np.float32
    assert weights.std() == pytest.approx(expected_std, rel=0.05)
    with pytest.raises(TypeError, match="rng"):
        initializer((3, 3), 0)
