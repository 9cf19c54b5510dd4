"""Winograd's F(2x2, 3x3) kernels of every instruction-set path this CPU supports, against the
float64 reference: odd and even output sizes (a last row or column of tiles cut in half), maps
narrower and wider than a vector of tiles, one to many channels, pads 0 to 2 (and 3 forward),
batches spread over several chunks; the input gradient, the fused ReLU, the split over threads,
the routing rule and the environment setting that forces it.

Tolerance. Each transformed input is a sum of at most 4 pixels, each transformed filter of 9
weights times at most 1/4, and each output a sum of 9 products' sums: against direct
convolution the bound on float32's rounding grows by a constant factor. The tests allow 4x the
direct kernels' 2e-5 of the largest output (the worst seen over these cases is about 3e-7).
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

import cnn_ext
from cnn_ext.convolution import WINOGRAD_MIN_CHANNELS, choose_engine
from cnn_ext.engines.direct import winograd
from cnn_ext.engines.direct.dispatch import kernels_for, supported_paths
from cnn_ext.geometry import conv_geometry
from cnn_ext.tests.test_direct import check_fused_relu
from cnn_ext.tests.test_engine import reference_conv

PATHS = supported_paths()
RELATIVE = 8e-5

# (N, C, H, W, out channels, pad)
CASES = [
    (1, 1, 5, 5, 1, 0),
    (2, 3, 7, 9, 5, 1),          # odd output width: the last tiles' second column dropped
    (2, 16, 8, 8, 17, 1),        # 17 output channels: not a whole register tile
    (1, 32, 14, 14, 32, 2),      # DeepConvNet conv4
    (3, 4, 3, 3, 2, 2),
    (2, 5, 11, 13, 3, 1),
    (2, 2, 6, 10, 3, 0),
    (1, 1, 28, 28, 16, 1),
    (3, 1, 1, 1, 2, 1),          # one pixel, one tile cut in both directions
    (5, 7, 4, 37, 9, 2),         # a wide map: several vectors of tiles per row
    (2, 16, 28, 28, 16, 1),      # DeepConvNet conv2
    (40, 64, 8, 8, 64, 1),       # several chunks of images
]
FORWARD_ONLY = [(2, 3, 5, 6, 4, 3)]  # pad 3: no input gradient by Winograd


def case_id(case):
    n, c, h, w, oc, pad = case
    return f"x{n}x{c}x{h}x{w}-oc{oc}-p{pad}"


def problem(case, rng):
    n, c, h, w, oc, pad = case
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    W = rng.standard_normal((oc, c, 3, 3)).astype(np.float32)
    b = rng.standard_normal(oc).astype(np.float32)
    return x, W, b, pad


def assert_close(got, expected, name):
    assert got.dtype == np.float32 and got.shape == expected.shape, name
    scale = max(float(np.abs(expected).max()), 1e-6)
    assert_allclose(got, expected, rtol=0, atol=RELATIVE * scale, err_msg=name)


@pytest.fixture(params=PATHS)
def kernels(request):
    return kernels_for(request.param)


@pytest.mark.parametrize("case", CASES + FORWARD_ONLY, ids=case_id)
def test_forward_equals_the_float64_reference(case, kernels, rng):
    x, W, b, pad = problem(case, rng)
    expected, _ = reference_conv(x.astype(np.float64), W.astype(np.float64), b.astype(np.float64),
                                 1, pad)
    geometry = conv_geometry(x.shape, W.shape, 1, pad)
    assert_close(winograd.forward(x, W, b, geometry, kernels), expected, "out")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_gradients_equal_the_float64_reference(case, kernels, rng):
    x, W, b, pad = problem(case, rng)
    out, gradients = reference_conv(x.astype(np.float64), W.astype(np.float64),
                                    b.astype(np.float64), 1, pad)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    geometry = conv_geometry(x.shape, W.shape, 1, pad)
    got = winograd.backward(x, W, dout, geometry, True, kernels)
    for name, value, expected in zip(("dx", "dW", "db"), got, gradients(dout.astype(np.float64))):
        assert_close(value, expected, name)
    no_dx, dW, db = winograd.backward(x, W, dout, geometry, False, kernels)
    assert no_dx is None
    np.testing.assert_array_equal(dW, got[1])
    np.testing.assert_array_equal(db, got[2])


@pytest.mark.parametrize("case", CASES + FORWARD_ONLY, ids=case_id)
def test_the_weight_gradient_kernel_equals_the_float64_reference(case, kernels, rng):
    """On every path, whether or not its engine uses it (WINOGRAD_WEIGHT_GRADIENT)."""
    x, W, b, pad = problem(case, rng)
    out, gradients = reference_conv(x.astype(np.float64), W.astype(np.float64),
                                    b.astype(np.float64), 1, pad)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    _, dW, db = gradients(dout.astype(np.float64))
    dweights = np.ones((W.shape[0], W[0].size), np.float32)  # the kernel adds to what is there
    dbias = np.ones(W.shape[0], np.float32)
    floats, offsets = kernels.winograd_gradient_scratch(*x.shape[1:], W.shape[0], pad,
                                                        *out.shape[2:], x.shape[0])
    kernels.winograd_gradient(x, dout, pad, dweights, dbias,
                              np.full(floats, np.nan, np.float32), np.empty(offsets, np.intp))
    assert_close(dweights.reshape(W.shape) - 1, dW, "dW")
    assert_close(dbias - 1, db, "db")


@pytest.mark.parametrize("case", [CASES[1], CASES[2], CASES[9]], ids=case_id)
def test_the_fused_relu_is_the_relu_of_the_output(case, kernels, rng):
    check_fused_relu(winograd, *problem(case, rng), kernels)


@pytest.mark.parametrize("threads", [1, 2])
def test_results_do_not_depend_on_the_split_over_threads(threads, rng):
    x, W, b, pad = problem((7, 16, 14, 14, 16, 1), rng)
    geometry = conv_geometry(x.shape, W.shape, 1, pad)
    previous = cnn_ext.get_num_threads()
    try:
        cnn_ext.set_num_threads(threads)
        out = winograd.forward(x, W, b, geometry)
        dx, _, _ = winograd.backward(x, W, out, geometry, True)
    finally:
        cnn_ext.set_num_threads(previous)
    for n in range(7):
        alone = conv_geometry(x[n:n + 1].shape, W.shape, 1, pad)
        np.testing.assert_array_equal(winograd.forward(x[n:n + 1], W, b, alone), out[n:n + 1])
        np.testing.assert_array_equal(winograd.backward(x[n:n + 1], W, out[n:n + 1], alone, True)[0],
                                      dx[n:n + 1])


@pytest.mark.parametrize("channels, out_channels, dtype, filter_size, pad, expected", [
    (16, 16, np.float32, 3, 1, "winograd"),
    (64, 16, np.float32, 3, 2, "winograd"),
    (WINOGRAD_MIN_CHANNELS - 1, 64, np.float32, 3, 1, "direct"),
    (16, WINOGRAD_MIN_CHANNELS - 1, np.float32, 3, 1, "direct"),
    (16, 16, np.float64, 3, 1, "direct"),
    (16, 16, np.float32, 5, 2, "direct"),
    (16, 16, np.float32, 3, 3, "direct"),  # the input gradient would pad by -1
])
def test_the_routing_rule(channels, out_channels, dtype, filter_size, pad, expected,
                          winograd_setting):
    winograd_setting("auto")
    x = np.zeros((2, channels, 9, 9), dtype)
    W = np.zeros((out_channels, channels, filter_size, filter_size), dtype)
    assert choose_engine(x, W, conv_geometry(x.shape, W.shape, 1, pad), backward=pad < 3) == expected


@pytest.mark.parametrize("setting, expected", [
    ("always", "winograd winograd"), ("never", "direct direct"), ("auto", "direct winograd"),
    ("sometimes", "direct winograd")])
def test_the_environment_setting_forces_the_choice(setting, expected, tmp_path):
    script = ("import warnings; warnings.simplefilter('always')\n"
              "import numpy as np\n"
              "from cnn_ext.convolution import choose_engine\n"
              "from cnn_ext.geometry import conv_geometry\n"
              "def engine(c):\n"
              "    x, W = np.zeros((1, c, 8, 8), np.float32), np.zeros((c, c, 3, 3), np.float32)\n"
              "    return choose_engine(x, W, conv_geometry(x.shape, W.shape, 1, 1))\n"
              "print(engine(2), engine(32))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=tmp_path, env=dict(os.environ, CNN_EXT_WINOGRAD=setting), check=True)
    assert result.stdout.strip() == expected
    assert ("CNN_EXT_WINOGRAD='sometimes' is not one of auto, always, never" in result.stderr) \
        == (setting == "sometimes")


def test_the_public_functions_route_through_winograd(rng, winograd_setting):
    winograd_setting("auto")
    x, W, b, pad = problem((3, 16, 10, 10, 16, 1), rng)
    geometry = conv_geometry(x.shape, W.shape, 1, pad)
    np.testing.assert_array_equal(cnn_ext.conv2d_forward(x, W, b, 1, pad),
                                  winograd.forward(x, W, b, geometry))
    np.testing.assert_array_equal(cnn_ext.conv2d_forward(x, W, b, 1, pad, relu=True),
                                  winograd.forward(x, W, b, geometry, relu=True))
    dout = rng.standard_normal((3, 16, 10, 10)).astype(np.float32)
    for got, expected in zip(cnn_ext.conv2d_backward(x, W, dout, 1, pad),
                             winograd.backward(x, W, dout, geometry, True)):
        np.testing.assert_array_equal(got, expected)
