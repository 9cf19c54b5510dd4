"""Convolutions with groups (depthwise with a channel multiplier, by the depthwise kernels and,
forward, by the direct kernels' register tiles on every instruction-set path),
dilation, strides and pads per axis and per side, against a loop over every window written for the test, in float32 and
float64, with one and two threads and with blocks of one image."""

import numpy as np
import pytest

import cnn_ext
from cnn_ext.engines import depthwise
from cnn_ext.engines.direct.dispatch import kernels_for, supported_paths
from cnn_ext.geometry import conv_geometry
from cnn_ext.tests.messages import check_message
from cnn_ext.tests.naive import grouped_conv_loops

# (N, C, H, W, OC, filter_h, filter_w, stride, pad, dilation, groups)
CASES = [
    (2, 4, 7, 6, 6, 3, 3, 1, 1, 1, 2),                     # two groups
    (3, 6, 9, 8, 6, 3, 2, (2, 1), (1, 0), 1, 3),           # three groups, strides per axis
    (2, 5, 8, 9, 5, 3, 3, 1, 1, 1, 5),                     # depthwise
    (2, 3, 8, 7, 6, 3, 3, 2, 1, 1, 3),                     # depthwise, channel multiplier 2
    (1, 4, 11, 10, 8, 3, 3, 1, 2, 2, 4),                   # depthwise, multiplier 2, dilation 2
    (2, 4, 7, 9, 4, 3, 2, (2, 1), ((0, 2), (1, 0)), (1, 2), 4),  # depthwise, all of it
    (3, 2, 6, 6, 6, 1, 1, 1, 0, 1, 2),                     # depthwise 1x1, multiplier 3
    (2, 3, 10, 9, 4, 3, 3, 1, 0, 2, 1),                    # dilation 2
    (2, 2, 9, 12, 3, 3, 2, (1, 2), 1, (2, 3), 1),          # dilation per axis
    (2, 3, 6, 7, 4, 3, 3, 1, ((0, 2), (1, 0)), 1, 1),      # pads per side
    (1, 4, 7, 5, 4, 2, 3, 2, ((2, 1), (0, 3)), (1, 2), 2), # all of it
    (2, 3, 5, 5, 4, 5, 5, 1, ((2, 2), (2, 2)), 1, 1),      # the plain case, given as sides
    (1, 2, 4, 4, 2, 3, 3, 1, ((3, 3), (3, 3)), 1, 1),      # a pad past the filter
]


def case_id(case):
    n, c, h, w, oc, fh, fw, stride, pad, dilation, groups = case
    return f"{n}x{c}x{h}x{w}-oc{oc}-{fh}x{fw}-s{stride}-p{pad}-d{dilation}-g{groups}".replace(" ", "")


@pytest.fixture(params=[(1, None), (2, None), (2, 1)], ids=["1-thread", "2-threads", "one-image-blocks"])
def engine(request, monkeypatch):
    threads, block_bytes = request.param
    previous = cnn_ext.get_num_threads()
    cnn_ext.set_num_threads(threads)
    if block_bytes is not None:
        monkeypatch.setattr(cnn_ext.engines.unfold, "BLOCK_BYTES", block_bytes)
    yield
    cnn_ext.set_num_threads(previous)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_forward_and_gradients_equal_the_loops(case, dtype, engine):
    n, c, h, w, oc, fh, fw, stride, pad, dilation, groups = case
    rng = np.random.default_rng(sum(map(hash, map(str, case))) % 2 ** 32)
    x = rng.standard_normal((n, c, h, w))
    W = rng.standard_normal((oc, c // groups, fh, fw))
    b = rng.standard_normal(oc)
    geometry = conv_geometry(x.shape, W.shape, stride, pad, dilation, groups)
    expected, gradients = grouped_conv_loops(x, W, b, geometry.stride, geometry.pad,
                                             geometry.dilation, groups)
    tolerance = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    x, W, b = x.astype(dtype), W.astype(dtype), b.astype(dtype)
    out = cnn_ext.conv2d_forward(x, W, b, stride, pad, dilation, groups)
    assert out.dtype == dtype and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, **tolerance)
    dout = rng.standard_normal(expected.shape)
    for got, want in zip(cnn_ext.conv2d_backward(x, W, dout.astype(dtype), stride, pad, dilation,
                                                 groups), gradients(dout)):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, **tolerance)
    no_dx, dW, db = cnn_ext.conv2d_backward(x, W, dout.astype(dtype), stride, pad, dilation,
                                            groups, input_grad=False)
    assert no_dx is None
    np.testing.assert_allclose(dW, gradients(dout)[1], **tolerance)


# (N, C, H, W, multiplier, filter, stride, pad): passes the direct kernels' tiles compute (the
# gradients with stride 1 and a pad below the filter; the others by the loops)
TILED_DEPTHWISE = [
    (2, 32, 28, 28, 1, 3, 1, 1),   # MobileNet's 3x3 layer
    (2, 7, 9, 13, 2, 3, 2, 1),     # a channel multiplier, a stride, odd sizes
    (3, 5, 12, 11, 3, 5, 1, 2),
    (2, 3, 8, 8, 6, 3, 1, 0),      # more filters per channel than one register tile
    (1, 4, 6, 7, 1, 1, 3, 0),      # 1x1 with stride 3
    (2, 2, 5, 5, 2, 3, 2, 3),      # a pad past the filter
    (2, 6, 10, 7, 2, 3, 1, 2),     # gradients: pad 2 of a 3x3 filter
]


@pytest.mark.parametrize("path", supported_paths())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", TILED_DEPTHWISE, ids=str)
def test_depthwise_register_tiles_equal_the_loops_on_every_path(case, dtype, path):
    n, c, h, w, multiplier, size, stride, pad = case
    rng = np.random.default_rng(sum(case))
    x = rng.standard_normal((n, c, h, w))
    W = rng.standard_normal((c * multiplier, 1, size, size))
    b = rng.standard_normal(c * multiplier)
    geometry = conv_geometry(x.shape, W.shape, stride, pad, 1, c)
    expected, gradients = grouped_conv_loops(x, W, b, geometry.stride, geometry.pad,
                                             geometry.dilation, c)
    kernels = kernels_for(path)
    x, W, b = x.astype(dtype), W.astype(dtype), b.astype(dtype)
    dout = rng.standard_normal(expected.shape)
    got = (depthwise.forward(x, W, b, geometry, kernels),
           *depthwise.backward(x, W, dout.astype(dtype), geometry, True, kernels))
    for name, value, reference in zip(("out", "dx", "dW", "db"), got,
                                      (expected, *gradients(dout))):
        assert value.dtype == dtype and value.shape == reference.shape, name
        np.testing.assert_allclose(value, reference, rtol=0, err_msg=name,
                                   atol=(2e-5 if dtype == np.float32 else 1e-12)
                                   * np.abs(reference).max())
    no_dx, dW, db = depthwise.backward(x, W, dout.astype(dtype), geometry, False, kernels)
    assert no_dx is None
    np.testing.assert_array_equal(dW, got[2])
    np.testing.assert_array_equal(db, got[3])


def test_the_same_convolution_given_in_every_form_is_the_same():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 8, 8)).astype(np.float32)
    W = rng.standard_normal((4, 4, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    plain = cnn_ext.conv2d_forward(x, W, b, 1, 1)
    for stride, pad, dilation in [((1, 1), (1, 1), (1, 1)), (1, ((1, 1), (1, 1)), 1),
                                  ([1, 1], [[1, 1], [1, 1]], [1, 1])]:
        np.testing.assert_array_equal(cnn_ext.conv2d_forward(x, W, b, stride, pad, dilation), plain)


BAD = [
    (dict(groups=3), ValueError, ["groups=3", "input channels (4)", "output channels (6)"]),
    (dict(groups=0), ValueError, ["groups", "positive"]),
    (dict(groups=2.0), TypeError, ["groups", "integer"]),
    (dict(dilation=0), ValueError, ["dilation", "positive", "0"]),
    (dict(dilation=(1, 2, 3)), ValueError, ["dilation", "pair"]),
    (dict(pad=-1), ValueError, ["pad", "-1"]),
    (dict(pad=((1, 2), 3)), ValueError, ["pad", "((top, bottom), (left, right))"]),
    (dict(pad=(1, 2, 3)), ValueError, ["pad", "pair"]),
    (dict(stride=(1, 0)), ValueError, ["stride", "positive", "0"]),
    (dict(dilation=4), ValueError, ["filter_h=3 dilated by 4 to 9", "padded input height 8"]),
]


@pytest.mark.parametrize("arguments, exception, words", BAD, ids=[str(a) for a, _, _ in BAD])
def test_bad_geometry_is_refused_naming_the_argument(arguments, exception, words):
    x = np.zeros((1, 4, 8, 8), np.float32)
    W = np.zeros((6, 4, 3, 3), np.float32)
    with pytest.raises(exception) as error:
        cnn_ext.conv2d_forward(x, W, np.zeros(6, np.float32), **arguments)
    check_message(error, words)


def test_filters_must_have_the_channels_of_one_group():
    x = np.zeros((1, 4, 8, 8), np.float32)
    with pytest.raises(ValueError) as error:
        cnn_ext.conv2d_forward(x, np.zeros((4, 4, 3, 3), np.float32), np.zeros(4, np.float32),
                               groups=2)
    check_message(error, ["W must have 2 input channels", "x.shape[1] // groups", "(4, 4, 3, 3)"])
