"""The direct convolution kernels of every instruction-set path this CPU supports, float32 and
float64, against the float64 reference and the unfold engine: odd sizes, channel counts that are not multiples of
the vector width, one channel, batch 1, pads 0 to filter - 1 (and wider for the forward
pass), 1x1 to 7x7 and rectangular filters, strides 1 to 3 (phase planes); the adjoint
identities; hypothesis properties; and the choice of a path."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import cnn_ext
from cnn_ext.engines import unfold as _unfold_engine
from cnn_ext.engines.direct import engine as _direct_engine
from cnn_ext.geometry import conv_geometry
from cnn_ext.engines.direct.dispatch import SIMD_PATHS, choose_path, kernels_for, simd_path, supported_paths
from cnn_ext.tests.test_engine import reference_conv

PATHS = supported_paths()
# Sums of up to a few thousand products, relative to the largest value: float32's rounding, and
# float64's (its unit roundoff is 1.1e-16; a sum of k products errs by at most about k of them).
RELATIVE = {np.float32: 2e-5, np.float64: 1e-12}

# (N, C, H, W, out channels, filter_h, filter_w, pad)
CASES = [
    (1, 1, 5, 5, 1, 3, 3, 0),
    (2, 3, 7, 9, 5, 3, 3, 1),
    (3, 2, 8, 6, 6, 5, 5, 2),        # LeNet's 6 output channels: not a whole register tile
    (1, 1, 28, 28, 6, 5, 5, 2),      # LeNet conv1
    (2, 6, 14, 14, 16, 5, 5, 2),     # LeNet conv2
    (2, 16, 8, 8, 17, 3, 3, 1),      # 17 channels, an 8x8 image: the wide rows are 10
    (1, 32, 14, 14, 32, 3, 3, 2),    # DeepConvNet conv4: pad 2 with a 3x3 filter
    (2, 5, 11, 13, 3, 7, 7, 3),
    (1, 3, 9, 4, 4, 1, 1, 0),        # 1x1 filters
    (2, 2, 6, 10, 3, 3, 2, 1),       # a rectangular filter
    (1, 4, 3, 3, 2, 3, 3, 2),        # the filter covers the whole padded image
    (3, 1, 1, 1, 2, 1, 1, 0),        # one pixel
    (1, 2, 4, 37, 9, 3, 5, 2),       # a wide image: many vectors per row
]
FORWARD_ONLY = [
    (2, 2, 5, 6, 3, 3, 3, 3),        # pad of the filter size: direct forward, unfold backward
    (1, 1, 2, 3, 2, 2, 1, 4),
]


# (N, C, H, W, out channels, filter_h, filter_w, pad, stride): phase planes
STRIDED = [
    (2, 16, 28, 28, 32, 3, 3, 1, 2),   # ResNet's stride-2 3x3 layer
    (2, 32, 14, 14, 64, 1, 1, 0, 2),   # ResNet's 1x1 shortcut: one phase plane
    (3, 2, 7, 9, 5, 3, 3, 1, 2),       # odd sizes: the last phase rows are cut
    (2, 3, 11, 6, 4, 3, 3, 0, 2),
    (2, 4, 9, 13, 6, 5, 5, 2, 2),
    (3, 2, 12, 12, 3, 3, 3, 1, 3),     # stride 3
    (2, 3, 8, 8, 5, 2, 2, 0, 2),       # 2x2 filters: every tap in a phase of its own
    (2, 2, 15, 15, 17, 7, 7, 3, 2),    # a 7x7 stem
    (2, 3, 6, 7, 2, 4, 4, 3, 3),       # a pad past the filter
    (1, 2, 5, 40, 3, 3, 2, 1, 2),      # a rectangular filter, a wide image
    (1, 1, 2, 1, 1, 3, 3, 1, 3),       # a phase whose columns all lie past the image
]


def strided_id(case):
    return f"{case_id(case[:8])}-s{case[8]}"


def case_id(case):
    n, c, h, w, oc, fh, fw, pad = case
    return f"x{n}x{c}x{h}x{w}-oc{oc}-f{fh}x{fw}-p{pad}"


def problem(case, rng, dtype=np.float32):
    n, c, h, w, oc, fh, fw, pad = case
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    W = rng.standard_normal((oc, c, fh, fw)).astype(dtype)
    b = rng.standard_normal(oc).astype(dtype)
    return x, W, b, pad


def assert_close(got, expected, what, dtype=np.float32):
    scale = max(float(np.abs(expected).max()), 1e-6)
    assert got.dtype == dtype and got.shape == expected.shape, what
    assert_allclose(got, expected, rtol=0, atol=RELATIVE[dtype] * scale, err_msg=what)


@pytest.fixture(params=PATHS)
def kernels(request):
    return kernels_for(request.param)


@pytest.mark.parametrize("case", CASES + FORWARD_ONLY, ids=case_id)
def test_forward_equals_the_float64_reference(case, kernels, dtype, rng):
    x, W, b, pad = problem(case, rng, dtype)
    expected, _ = reference_conv(x.astype(np.float64), W.astype(np.float64), b.astype(np.float64), 1, pad)
    geometry = conv_geometry(x.shape, W.shape, 1, pad)
    assert_close(_direct_engine.forward(x, W, b, geometry, kernels), expected, "out", dtype)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_gradients_equal_the_float64_reference_and_the_unfold_engine(case, kernels, dtype, rng):
    x, W, b, pad = problem(case, rng, dtype)
    expected_out, gradients = reference_conv(x.astype(np.float64), W.astype(np.float64),
                                             b.astype(np.float64), 1, pad)
    dout = rng.standard_normal(expected_out.shape).astype(dtype)
    dx, dW, db = _direct_engine.backward(x, W, dout, conv_geometry(x.shape, W.shape, 1, pad), True, kernels)
    geometry = conv_geometry(x.shape, W.shape, 1, pad)
    unfolded = _unfold_engine.backward(x, W, dout, geometry, input_grad=True)
    for name, got, expected, second in zip(("dx", "dW", "db"), (dx, dW, db),
                                           gradients(dout.astype(np.float64)), unfolded):
        assert_close(got, expected, name, dtype)
        assert_close(got, second.astype(np.float64), f"{name} against the unfold engine", dtype)
    no_dx, dW_only, db_only = _direct_engine.backward(x, W, dout, conv_geometry(x.shape, W.shape, 1, pad), False, kernels)
    assert no_dx is None
    np.testing.assert_array_equal(dW_only, dW)
    np.testing.assert_array_equal(db_only, db)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_the_gradients_are_adjoint_to_the_forward_pass(case, kernels, dtype, rng):
    """<conv(x), dout> = <x, dx> = <W, dW> for the bias-free convolution."""
    x, W, _, pad = problem(case, rng, dtype)
    zero = np.zeros(W.shape[0], dtype)
    out = _direct_engine.forward(x, W, zero, conv_geometry(x.shape, W.shape, 1, pad), kernels).astype(np.float64)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx, dW, db = _direct_engine.backward(x, W, dout, conv_geometry(x.shape, W.shape, 1, pad), True, kernels)
    product = np.sum(out * dout)
    scale = np.sum(np.abs(out) * np.abs(dout))
    tolerance = RELATIVE[dtype] / 2
    assert abs(np.sum(x.astype(np.float64) * dx) - product) <= tolerance * scale
    assert abs(np.sum(W.astype(np.float64) * dW) - product) <= tolerance * scale
    assert_allclose(db, dout.sum(axis=(0, 2, 3), dtype=np.float64), rtol=tolerance,
                    atol=tolerance * 10)


@pytest.mark.parametrize("case", STRIDED, ids=strided_id)
def test_strided_passes_equal_the_float64_reference(case, kernels, dtype, rng):
    x, W, b, pad = problem(case[:8], rng, dtype)
    stride = case[8]
    expected, gradients = reference_conv(x.astype(np.float64), W.astype(np.float64),
                                         b.astype(np.float64), stride, pad)
    geometry = conv_geometry(x.shape, W.shape, stride, pad)
    assert_close(_direct_engine.forward(x, W, b, geometry, kernels), expected, "out", dtype)
    dout = rng.standard_normal(expected.shape).astype(dtype)
    got = _direct_engine.backward(x, W, dout, geometry, True, kernels)
    for name, value, reference in zip(("dx", "dW", "db"), got, gradients(dout.astype(np.float64))):
        assert_close(value, reference, name, dtype)
    no_dx, dW, db = _direct_engine.backward(x, W, dout, geometry, False, kernels)
    assert no_dx is None
    np.testing.assert_array_equal(dW, got[1])
    np.testing.assert_array_equal(db, got[2])


def test_the_kernels_refuse_a_strided_input_gradient(rng):
    kernels = kernels_for(PATHS[0])
    x, W, _, _ = problem((1, 2, 7, 7, 3, 3, 3, 1), rng)
    dout = np.zeros((1, 3, 4, 4), np.float32)
    with pytest.raises(ValueError, match="turned must be None with stride 2"):
        kernels.backward(x, dout, 3, 3, 1, 1, 2, np.zeros((3, 18), np.float32),
                         np.zeros(3, np.float32), _direct_engine.turned_filters(W),
                         np.zeros_like(x), np.zeros(4096, np.float32), np.zeros(64, np.intp))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3), channels=st.integers(1, 9), out_channels=st.integers(1, 9),
       height=st.integers(1, 12), width=st.integers(1, 20), filter_h=st.integers(1, 5),
       filter_w=st.integers(1, 5), pad=st.integers(0, 4), stride=st.integers(1, 3),
       path=st.sampled_from(PATHS), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2 ** 16))
def test_direct_kernels_property(n, channels, out_channels, height, width, filter_h, filter_w, pad,
                                 stride, path, dtype, seed):
    if filter_h > height + 2 * pad or filter_w > width + 2 * pad:
        return  # no window fits: conv2d refuses it before any kernel runs
    rng = np.random.default_rng(seed)
    x, W, b, pad = problem((n, channels, height, width, out_channels, filter_h, filter_w, pad), rng,
                           dtype)
    kernels = kernels_for(path)
    expected, gradients = reference_conv(x.astype(np.float64), W.astype(np.float64),
                                         b.astype(np.float64), stride, pad)
    geometry = conv_geometry(x.shape, W.shape, stride, pad)
    assert_close(_direct_engine.forward(x, W, b, geometry, kernels), expected, "out", dtype)
    if stride > 1 or pad < min(filter_h, filter_w):
        dout = rng.standard_normal(expected.shape).astype(dtype)
        got = _direct_engine.backward(x, W, dout, geometry, True, kernels)
        # Each gradient is a sum of products, which may cancel to almost nothing: the rounding error
        # is bounded by the same sum over the products' magnitudes, not by the result's size.
        _, magnitudes = reference_conv(np.abs(x).astype(np.float64), np.abs(W).astype(np.float64),
                                       b.astype(np.float64), stride, pad)
        for name, value, reference, bound in zip(("dx", "dW", "db"), got, gradients(dout.astype(np.float64)),
                                                 magnitudes(np.abs(dout).astype(np.float64))):
            assert value.dtype == dtype and value.shape == reference.shape, name
            assert_allclose(value, reference, rtol=0,
                            atol=RELATIVE[dtype] * max(float(bound.max()), 1e-6), err_msg=name)


def test_views_and_non_contiguous_inputs_give_the_results_of_their_copies(rng):
    x = rng.standard_normal((4, 6, 16, 30)).astype(np.float32)[::2, :, 1:15, ::2]  # a strided view
    W = rng.standard_normal((8, 6, 3, 3)).astype(np.float32).transpose(0, 1, 3, 2)  # not C-ordered
    b = rng.standard_normal(8).astype(np.float32)
    out = cnn_ext.conv2d_forward(x, W, b, 1, 1)
    np.testing.assert_array_equal(out, cnn_ext.conv2d_forward(x.copy(), W.copy(), b, 1, 1))
    dout = rng.standard_normal(out.shape).astype(np.float32)[..., ::-1]
    for got, expected in zip(cnn_ext.conv2d_backward(x, W, dout, 1, 1),
                             cnn_ext.conv2d_backward(x.copy(), W.copy(), dout.copy(), 1, 1)):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("threads", [1, 2])
def test_results_do_not_depend_on_the_split_over_threads(threads, rng):
    x, W, b, pad = problem((7, 6, 14, 14, 16, 5, 5, 2), rng)
    previous = cnn_ext.get_num_threads()
    try:
        cnn_ext.set_num_threads(threads)
        out = cnn_ext.conv2d_forward(x, W, b, 1, pad)
        dx, dW, db = cnn_ext.conv2d_backward(x, W, out, 1, pad)
    finally:
        cnn_ext.set_num_threads(previous)
    for n in range(7):  # each image alone gives its slice of the batch's outputs
        np.testing.assert_array_equal(cnn_ext.conv2d_forward(x[n:n + 1], W, b, 1, pad), out[n:n + 1])
    expected = reference_conv(x.astype(np.float64), W.astype(np.float64), b.astype(np.float64), 1, pad)
    for name, got, reference in zip(("dx", "dW", "db"), (dx, dW, db),
                                    expected[1](out.astype(np.float64))):
        assert_close(got, reference, name)


def test_the_public_engine_uses_the_path_in_use(rng, winograd_setting):
    winograd_setting("never")
    x, W, b, pad = problem((2, 3, 9, 9, 4, 3, 3, 1), rng)
    np.testing.assert_array_equal(cnn_ext.conv2d_forward(x, W, b, 1, pad),
                                  _direct_engine.forward(x, W, b, conv_geometry(x.shape, W.shape, 1, pad), kernels_for(simd_path())))
    assert kernels_for(simd_path()).INSTRUCTION_SET == simd_path()


def test_choosing_a_path():
    assert choose_path("", ["baseline", "avx2", "avx512"]) == ("avx512", None)
    assert choose_path(" AVX2 ", ["baseline", "avx2", "avx512"]) == ("avx2", None)
    assert choose_path("baseline", ["baseline", "avx2"]) == ("baseline", None)
    path, warning = choose_path("avx512", ["baseline", "avx2"])
    assert path == "avx2" and "does not support it" in warning and "CNN_EXT_SIMD='avx512'" in warning
    path, warning = choose_path("sse9", ["baseline"])
    assert path == "baseline" and "is not one of baseline, avx2, avx512" in warning
    assert PATHS[0] == "baseline" and set(PATHS) <= set(SIMD_PATHS)


@pytest.mark.parametrize("requested", ["baseline", "avx512", "neon-bogus"])
def test_the_environment_variable_forces_a_path_or_warns(requested, tmp_path):
    script = ("import warnings; warnings.simplefilter('always')\n"
              "import cnn_ext; print(cnn_ext.simd_path())")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=tmp_path, env=dict(os.environ, CNN_EXT_SIMD=requested), check=True)
    if requested in PATHS:
        assert result.stdout.strip() == requested and "RuntimeWarning" not in result.stderr
    else:  # a path this CPU lacks, or no path at all: the best one, with a warning
        assert result.stdout.strip() == PATHS[-1]
        assert "RuntimeWarning" in result.stderr and "CNN_EXT_SIMD" in result.stderr


def check_fused_relu(engine, x, W, b, pad, kernels):
    """``engine.forward(..., relu=True)`` is the ReLU of its output, a NaN of ``x`` kept."""
    x[0, 0, 0, 0] = np.nan
    geometry = conv_geometry(x.shape, W.shape, 1, pad)
    plain = engine.forward(x, W, b, geometry, kernels)
    fused = engine.forward(x, W, b, geometry, kernels, relu=True)
    np.testing.assert_array_equal(fused, np.where(plain <= 0, 0, plain))
    assert np.isnan(fused).sum() == np.isnan(plain).sum() > 0


@pytest.mark.parametrize("case", [CASES[1], CASES[5], CASES[12]], ids=case_id)
def test_the_fused_relu_is_the_relu_of_the_output(case, kernels, dtype, rng):
    check_fused_relu(_direct_engine, *problem(case, rng, dtype), kernels)


@pytest.mark.parametrize("settings", [dict(dilation=2, pad=1), dict(pad=1, groups=4), dict(pad=(1, 0))],
                         ids=["unfold", "depthwise", "uneven-pad"])
def test_engines_without_a_fused_relu_apply_it_after(settings, dtype, rng):
    x = rng.standard_normal((2, 4, 9, 9)).astype(dtype)
    W = rng.standard_normal((4, 4 // settings.get("groups", 1), 3, 3)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    plain = cnn_ext.conv2d_forward(x, W, b, **settings)
    np.testing.assert_array_equal(cnn_ext.conv2d_forward(x, W, b, relu=True, **settings),
                                  np.maximum(plain, 0))
