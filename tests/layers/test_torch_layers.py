"""The layers against PyTorch 2.13 in float64: forward, the input gradient and the weight
gradients, for the convolutions beyond the book's (groups, depthwise with a channel multiplier,
dilation, strides and pads per axis and per side, "same").

Needs torch; skipped without it, except with CNN_EXT_REQUIRE_EXTRAS=1 (set by .ci/run)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from cnn.layers import (AvgPooling, Convolution, GlobalAveragePooling, GlobalMaxPooling, LeakyRelu,
                        LogSoftmax, Pooling, PRelu,
                        Softmax)
from extras import optional

torch = optional("torch", "pip install torch==2.13.0")
F = torch.nn.functional

# (input shape, W shape, settings)
CONVOLUTIONS = [
    ((2, 4, 9, 8), (6, 2, 3, 3), dict(pad=1, groups=2)),
    ((2, 6, 10, 9), (6, 1, 3, 3), dict(pad=1, groups=6)),                          # depthwise
    ((2, 3, 9, 11), (6, 1, 3, 3), dict(stride=2, pad=1, groups=3)),                # multiplier 2
    ((2, 4, 12, 10), (8, 1, 3, 3), dict(pad=2, dilation=2, groups=4)),             # + dilation 2
    ((2, 3, 13, 12), (5, 3, 3, 3), dict(dilation=2)),
    ((2, 3, 9, 10), (4, 3, 3, 2), dict(stride=(2, 1), pad=((0, 2), (1, 0)), dilation=(1, 2))),
    ((1, 2, 7, 8), (4, 2, 4, 3), dict(pad="same", dilation=(1, 2))),              # even filter
    ((2, 8, 7, 7), (8, 2, 1, 1), dict(groups=4)),                                  # grouped 1x1
]


def case_id(case):
    _, W_shape, settings = case
    return "-".join(f"{key}{value}" for key, value in settings.items()).replace(" ", "") + f"-W{W_shape}"


def torch_convolution(x, W, b, layer):
    """PyTorch's conv2d on the same settings: asymmetric pads through F.pad first."""
    (top, bottom), (left, right) = layer.pads
    x = F.pad(x, (left, right, top, bottom))
    return F.conv2d(x, W, b, stride=layer.strides, dilation=layer.dilations, groups=layer.groups)


@pytest.mark.parametrize("case", CONVOLUTIONS, ids=case_id)
def test_convolution_agrees_with_pytorch(case):
    x_shape, W_shape, settings = case
    rng = np.random.default_rng(len(repr(case)))
    x, W, b = rng.standard_normal(x_shape), rng.standard_normal(W_shape), rng.standard_normal(W_shape[0])
    layer = Convolution(W.copy(), b.copy(), **settings)
    out = layer.forward(x.copy())
    tx, tW, tb = (torch.tensor(array, requires_grad=True) for array in (x, W, b))
    expected = torch_convolution(tx, tW, tb, layer)
    assert out.shape == tuple(expected.shape)
    assert_allclose(out, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    expected.backward(torch.tensor(dout))
    dx = layer.backward(dout)
    for got, want in ((dx, tx.grad), (layer.grads[0], tW.grad), (layer.grads[1], tb.grad)):
        assert_allclose(got, want.numpy(), rtol=1e-11, atol=1e-11)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
def test_same_padding_keeps_the_size_and_puts_the_odd_row_last():
    layer = Convolution(np.ones((1, 1, 4, 4)), np.zeros(1), pad="same")
    assert layer.pads == layer.pad == ((1, 2), (1, 2))
    assert layer.forward(np.ones((1, 1, 6, 5))).shape == (1, 1, 6, 5)
    expected = F.conv2d(torch.ones(1, 1, 6, 5, dtype=torch.float64), torch.ones(1, 1, 4, 4,
                        dtype=torch.float64), padding="same")
    assert_allclose(layer.forward(np.ones((1, 1, 6, 5))), expected.numpy())


def activation_cases():
    nn = torch.nn
    return [
        ("leaky-relu", lambda: LeakyRelu(0.2), lambda: nn.LeakyReLU(0.2), (3, 4, 5, 2)),
        ("leaky-relu-default", lambda: LeakyRelu(), lambda: nn.LeakyReLU(), (6, 7)),
        ("prelu-channels", lambda: PRelu(np.array([0.1, -0.3, 0.7])), lambda: prelu([0.1, -0.3, 0.7]), (2, 3, 4, 4)),
        ("prelu-shared", lambda: PRelu(np.array([0.4])), lambda: prelu([0.4]), (5, 6)),
        ("softmax", lambda: Softmax(), lambda: nn.Softmax(dim=1), (4, 7)),
        ("softmax-images", lambda: Softmax(), lambda: nn.Softmax(dim=1), (2, 5, 3, 3)),
        ("log-softmax", lambda: LogSoftmax(), lambda: nn.LogSoftmax(dim=1), (4, 7)),
        ("global-average", lambda: GlobalAveragePooling(), lambda: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()), (3, 4, 5, 6)),
        ("global-max", lambda: GlobalMaxPooling(), lambda: nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten()), (3, 4, 5, 6)),
    ]


def prelu(slopes):
    module = torch.nn.PReLU(len(slopes)).double()
    module.weight.data = torch.tensor(slopes, dtype=torch.float64)
    return module


@pytest.mark.parametrize("index", range(9), ids=lambda i: activation_cases()[i][0])
def test_activations_and_global_pooling_agree_with_pytorch(index):
    _, make_layer, make_module, shape = activation_cases()[index]
    rng = np.random.default_rng(index)
    x = rng.standard_normal(shape) * 3
    layer, module = make_layer(), make_module().double()
    out = layer.forward(x.copy())
    tx = torch.tensor(x, requires_grad=True)
    expected = module(tx)
    assert_allclose(out, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    expected.backward(torch.tensor(dout))
    assert_allclose(layer.backward(dout), tx.grad.numpy(), rtol=1e-11, atol=1e-11)
    for grad, parameter in zip(layer.grads, module.parameters()):
        assert_allclose(grad, parameter.grad.numpy(), rtol=1e-11, atol=1e-11)


# (layer, PyTorch's functional call of the same pooling, input shape)
POOLINGS = [
    ("max-ceil", lambda: Pooling(3, 3, stride=2, ceil_mode=True),
     lambda x: F.max_pool2d(x, 3, 2, ceil_mode=True), (2, 3, 8, 9)),
    ("max-dilation-2", lambda: Pooling(3, 3, stride=1, pad=1, dilation=2),
     lambda x: F.max_pool2d(x, 3, 1, 1, dilation=2), (2, 2, 9, 8)),
    ("max-dilation-ceil", lambda: Pooling(2, 3, stride=(2, 1), pad=(1, 1), dilation=(2, 1), ceil_mode=True),
     lambda x: F.max_pool2d(x, (2, 3), (2, 1), (1, 1), dilation=(2, 1), ceil_mode=True), (1, 3, 10, 7)),
    ("avg-ceil", lambda: AvgPooling(3, 3, stride=2, ceil_mode=True),
     lambda x: F.avg_pool2d(x, 3, 2, ceil_mode=True), (2, 3, 8, 8)),
    ("avg-ceil-pad", lambda: AvgPooling(3, 3, stride=2, pad=1, ceil_mode=True),
     lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True), (2, 2, 8, 9)),
    ("avg-exclude-pad", lambda: AvgPooling(3, 3, stride=2, pad=1, count_include_pad=False),
     lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), (2, 3, 7, 8)),
    ("avg-exclude-pad-ceil", lambda: AvgPooling(3, 2, stride=(2, 1), pad=(1, 1), ceil_mode=True, count_include_pad=False),
     lambda x: F.avg_pool2d(x, (3, 2), (2, 1), (1, 1), ceil_mode=True, count_include_pad=False), (1, 2, 8, 6)),
    ("avg-strides-per-axis", lambda: AvgPooling(2, 3, stride=(1, 2)),
     lambda x: F.avg_pool2d(x, (2, 3), (1, 2)), (2, 2, 6, 9)),
]


@pytest.mark.parametrize("index", range(len(POOLINGS)), ids=[case[0] for case in POOLINGS])
def test_pooling_agrees_with_pytorch(index):
    _, make_layer, pool, shape = POOLINGS[index]
    rng = np.random.default_rng(index)
    x = rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape) / 7 - 3
    layer = make_layer()
    out = layer.forward(x.copy())
    tx = torch.tensor(x, requires_grad=True)
    expected = pool(tx)
    assert out.shape == tuple(expected.shape)
    assert_allclose(out, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    expected.backward(torch.tensor(dout))
    assert_allclose(layer.backward(dout), tx.grad.numpy(), rtol=1e-11, atol=1e-11)
