"""Each layer's backward pass by gradient check in float64."""

import numpy as np
import pytest

from cnn.gradcheck import check_gradients
from cnn.layers import (Affine, AvgPooling, BatchNormalization, Convolution, Dropout, Flatten,
                        GlobalAveragePooling, GlobalMaxPooling, LeakyRelu, LogSoftmax, Pooling, PRelu,
                        Relu, Sigmoid, Softmax, SoftmaxWithLoss, Tanh)
from cnn.models import Sequential

MAX_RELATIVE_ERROR = 1e-6


def normal(rng, *shape):
    return rng.standard_normal(shape)


LAYERS = {
    "conv-s1-p0": (lambda r: Convolution(normal(r, 3, 2, 3, 3), normal(r, 3)), (2, 2, 6, 5)),
    "conv-s2-p1": (lambda r: Convolution(normal(r, 4, 3, 3, 3), normal(r, 4), stride=2, pad=1), (2, 3, 7, 7)),
    "conv-s3-p2-5x2": (lambda r: Convolution(normal(r, 2, 2, 5, 2), normal(r, 2), stride=3, pad=2), (1, 2, 8, 9)),
    "conv-groups-2": (lambda r: Convolution(normal(r, 4, 2, 3, 3), normal(r, 4), pad=1, groups=2), (2, 4, 5, 5)),
    "conv-depthwise-x2-dilated": (lambda r: Convolution(normal(r, 6, 1, 3, 3), normal(r, 6), pad="same", dilation=2, groups=3), (2, 3, 7, 6)),
    "conv-sides-strides": (lambda r: Convolution(normal(r, 3, 2, 2, 3), normal(r, 3), stride=(2, 1), pad=((0, 2), (1, 0)), dilation=(1, 2)), (1, 2, 7, 8)),
    "maxpool-2x2": (lambda r: Pooling(2, 2), (2, 3, 6, 6)),
    "maxpool-overlapping": (lambda r: Pooling(3, 3, stride=1, pad=1), (2, 2, 5, 5)),
    "avgpool-overlapping": (lambda r: AvgPooling(3, 3, stride=2, pad=1), (2, 2, 7, 6)),
    "avgpool-ceil-exclude-pad": (lambda r: AvgPooling(3, 2, stride=(2, 1), pad=1, ceil_mode=True, count_include_pad=False), (2, 2, 8, 5)),
    "avgpool-dilated": (lambda r: AvgPooling(2, 3, stride=1, pad=(1, 2), dilation=(2, 1), count_include_pad=False), (1, 2, 6, 5)),
    "maxpool-dilated-ceil": (lambda r: Pooling(2, 2, stride=2, pad=((1, 0), (0, 1)), ceil_mode=True, dilation=2), (2, 2, 7, 8)),
    "affine-4d": (lambda r: Affine(normal(r, 18, 5), normal(r, 5)), (3, 2, 3, 3)),
    "flatten": (lambda r: Flatten(), (3, 2, 2, 2)),
    "relu": (lambda r: Relu(), (4, 7)),
    "leaky-relu": (lambda r: LeakyRelu(0.2), (4, 7)),
    "prelu-per-channel": (lambda r: PRelu(normal(r, 3)), (2, 3, 4, 3)),
    "prelu-shared": (lambda r: PRelu(normal(r, 1)), (4, 5)),
    "softmax": (lambda r: Softmax(), (4, 5)),
    "softmax-images": (lambda r: Softmax(), (2, 3, 2, 2)),
    "log-softmax": (lambda r: LogSoftmax(), (4, 5)),
    "global-average-pooling": (lambda r: GlobalAveragePooling(), (2, 3, 4, 5)),
    "global-max-pooling": (lambda r: GlobalMaxPooling(), (2, 3, 4, 5)),
    "sigmoid": (lambda r: Sigmoid(), (4, 7)),
    "tanh": (lambda r: Tanh(), (4, 7)),
    "batchnorm-NxD": (lambda r: BatchNormalization(normal(r, 6), normal(r, 6)), (8, 6)),
    "batchnorm-NxCxHxW": (lambda r: BatchNormalization(normal(r, 3), normal(r, 3)), (4, 3, 3, 2)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_backward_matches_finite_differences(name):
    rng = np.random.default_rng(7)
    make_layer, x_shape = LAYERS[name]
    layer = make_layer(rng)
    # Keep inputs away from ReLU's and max-pool's kinks: distinct values, none near 0.
    x = rng.permutation(np.linspace(0.1, 2.0, int(np.prod(x_shape)))).reshape(x_shape)
    x *= rng.choice([-1.0, 1.0], size=x_shape)
    errors = check_gradients(layer, x)
    assert "x" in errors
    assert len(errors) == len(layer.params) + 1
    for key, error in errors.items():
        assert error < MAX_RELATIVE_ERROR, f"{name} {key}: relative error {error:.2e}"


def test_softmax_with_loss_gradient():
    rng = np.random.default_rng(3)
    model = Sequential([Affine(rng.standard_normal((5, 4)), rng.standard_normal(4))], SoftmaxWithLoss())
    x = rng.standard_normal((6, 5))
    for labels in (np.array([0, 1, 2, 3, 0, 1]), np.eye(4)[[3, 2, 1, 0, 3, 2]]):
        errors = check_gradients(model, x, labels)
        assert max(errors.values()) < MAX_RELATIVE_ERROR, errors


def test_gradient_check_detects_a_wrong_backward():
    class WrongRelu(Relu):
        def backward(self, dout):
            return dout  # forgets the mask

    x = np.linspace(-1, 1, 12).reshape(3, 4) + 0.05
    assert check_gradients(WrongRelu(), x)["x"] > 0.1


def test_dropout_backward_routes_through_the_forward_mask():
    rng = np.random.default_rng(4)
    x = rng.uniform(1.0, 2.0, (50, 40))
    layer = Dropout(0.3, seed=1)
    out = layer.forward(x, train=True)
    kept = out != 0
    assert 0.6 < kept.mean() < 0.8
    np.testing.assert_allclose(out[kept], x[kept] / 0.7)
    dout = rng.standard_normal(x.shape)
    np.testing.assert_allclose(layer.backward(dout), np.where(kept, dout / 0.7, 0.0))
    assert layer.forward(x, train=False) is x
    with pytest.raises(RuntimeError, match="train=False"):
        layer.backward(dout)  # inference keeps no mask: nothing to route through


def test_gradient_check_refuses_float32_and_warns_about_kinks():
    from cnn.gradcheck import KinkWarning
    from cnn.models import LeNet
    images = np.random.default_rng(0).random((2, 1, 28, 28))
    with pytest.raises(TypeError, match=r"float64: layers\[0\] .* float32 weights.*dtype=np.float64"):
        check_gradients(LeNet(seed=0), images.astype(np.float32), np.array([1, 2]))
    with pytest.raises(TypeError, match="x has dtype float32"):
        check_gradients(LeNet(seed=0, dtype=np.float64), images.astype(np.float32), np.array([1, 2]))
    blank = images.copy()
    blank[:, :, :10] = 0  # a blank band, as on MNIST's background: conv1's ReLU sees exact zeros
    with pytest.warns(KinkWarning) as record:
        check_gradients(LeNet(seed=0, dtype=np.float64), blank, np.array([1, 2]), entries_per_array=2)
    messages = [str(warning.message) for warning in record]
    assert any("inputs of layers[1] (Relu) lie within 1e-05 of its kink" in text for text in messages)
