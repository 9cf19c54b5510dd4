"""The gradient check itself: random layers held fixed, zero gradients named, names as the state's."""

import numpy as np
import pytest

from cnn.gradcheck import GradientReport, check_gradients
from cnn.layers import Affine, BatchNormalization, Dropout, Layer, Relu, Residual
from cnn.models import DeepConvNet, Sequential

LABELS = np.array([0, 1, 2, 0, 1, 2])


def affine(n_in, n_out, seed):
    return Affine.create(n_in, n_out, rng=seed, dtype=np.float64)


def inputs(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_dropout_masks_are_held_fixed_so_the_check_passes():
    model = Sequential([affine(5, 8, 0), Dropout(0.5, seed=1), Relu(), affine(8, 3, 2)])
    report = check_gradients(model, inputs((6, 5)), LABELS)
    assert max(report.values()) < 1e-7, report


def test_dropout_inside_a_residual_block_is_held_fixed_too():
    block = Residual([affine(5, 5, 0), Dropout(0.3, seed=4)])
    model = Sequential([block, affine(5, 3, 1)])
    assert max(check_gradients(model, inputs((6, 5)), LABELS).values()) < 1e-7


def test_the_books_deep_convnet_passes_with_its_dropout():
    x = inputs((2, 1, 28, 28))
    report = check_gradients(DeepConvNet(seed=0, dtype=np.float64), x, [3, 5], entries_per_array=5)
    assert max(report.values()) < 1e-5, report
    assert "layers.0.W" in report and "x" in report


def test_the_masks_used_are_those_training_would_draw():
    layer = Dropout(0.5, seed=3)
    check_gradients(layer, inputs((4, 6)))
    expected = Dropout(0.5, seed=3).forward(inputs((4, 6)))
    np.testing.assert_array_equal(layer.forward(inputs((4, 6))), expected)


class NoisyLayer(Layer):
    """Adds noise from a generator it keeps under a name of its own, which the check cannot see."""

    def __init__(self):
        super().__init__()
        self.noise_source = np.random.default_rng(0)

    def forward(self, x, train=True):
        return x + self.noise_source.standard_normal(x.shape)

    def backward(self, dout):
        return dout


def test_a_layer_with_randomness_the_check_cannot_hold_is_refused_by_name():
    model = Sequential([affine(5, 4, 0), NoisyLayer(), affine(4, 3, 1)])
    with pytest.raises(ValueError, match=r"same input.*layers\[1\] \(NoisyLayer\(\)\).*self\.rng"):
        check_gradients(model, inputs((6, 5)), LABELS)


def test_a_bias_before_batch_normalization_has_zero_gradients_reported_as_such():
    norm = BatchNormalization(np.ones(4), np.zeros(4))
    model = Sequential([affine(5, 4, 0), norm, Relu(), affine(4, 3, 1)])
    report = check_gradients(model, inputs((6, 5)), LABELS)
    assert isinstance(report, GradientReport)
    assert report.zero_gradients == ("layers.0.b",)
    assert report["layers.0.b"] == 0.0
    assert max(report.values()) < 1e-7, report
    assert "layers.0.b      zero gradient (both agree)" in str(report).splitlines()


def test_a_wrong_backward_still_reads_as_wrong_beside_zero_gradients():
    class ForgetfulRelu(Relu):
        def backward(self, dout):
            return dout

    model = Sequential([affine(5, 4, 0), ForgetfulRelu(), affine(4, 3, 1)])
    report = check_gradients(model, inputs((6, 5)), LABELS)
    assert report["layers.0.W"] > 0.1 and report.zero_gradients == ()
