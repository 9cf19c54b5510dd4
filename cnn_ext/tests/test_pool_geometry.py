"""Max pooling with dilation, pads per side and ceil mode, against a loop over every window
written for the test, in float32 and float64; and the output sizes against PyTorch's rule."""

import numpy as np
import pytest

import cnn_ext
from cnn_ext.geometry import output_size, pool_geometry
from cnn_ext.tests.messages import check_message

# (N, C, H, W, pool_h, pool_w, stride, pad, dilation, ceil_mode)
CASES = [
    (2, 3, 8, 9, 3, 3, 2, 0, 1, True),
    (1, 2, 9, 8, 3, 3, 1, 1, 2, False),
    (2, 2, 10, 7, 2, 3, (2, 1), (1, 1), (2, 1), True),
    (1, 3, 7, 7, 3, 2, 2, ((2, 0), (0, 1)), 1, True),
    (2, 1, 6, 6, 2, 2, 2, 0, 1, True),          # the 2x2 case, no partial window
    (2, 1, 7, 7, 2, 2, 2, 0, 1, True),          # the 2x2 case with a partial last window
    (1, 2, 5, 6, 4, 4, 3, 3, 1, True),          # a pad past half the window
]


def windows_loop(x, pool_h, pool_w, geometry):
    """Every window's maximum and its flat position, by scanning the pixels it covers."""
    n_images, channels, height, width = x.shape
    (sh, sw), ((top, _), (left, _)), (dh, dw) = geometry.stride, geometry.pad, geometry.dilation
    out = np.empty((n_images, channels, geometry.out_h, geometry.out_w))
    argmax = np.empty(out.shape, np.intp)
    for n in range(n_images):
        for c in range(channels):
            for oh in range(geometry.out_h):
                for ow in range(geometry.out_w):
                    cells = [(ih, iw) for ih in range(oh * sh - top, oh * sh - top + dh * pool_h, dh)
                             for iw in range(ow * sw - left, ow * sw - left + dw * pool_w, dw)
                             if 0 <= ih < height and 0 <= iw < width]
                    values = [x[n, c, ih, iw] for ih, iw in cells]
                    best = int(np.argmax(values))
                    out[n, c, oh, ow] = values[best]
                    argmax[n, c, oh, ow] = cells[best][0] * width + cells[best][1]
    return out, argmax


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_max_pooling_equals_the_loop(case, dtype):
    n, c, h, w, pool_h, pool_w, stride, pad, dilation, ceil_mode = case
    rng = np.random.default_rng(h * w + pool_h)
    x = rng.permutation(n * c * h * w).reshape(n, c, h, w).astype(dtype)
    geometry = pool_geometry(x.shape, pool_h, pool_w, stride, pad, dilation, ceil_mode)
    expected, positions = windows_loop(x, pool_h, pool_w, geometry)
    out, argmax = cnn_ext.maxpool_forward(x, pool_h, pool_w, stride, pad, dilation, ceil_mode)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(argmax, positions)
    np.testing.assert_array_equal(cnn_ext.maxpool(x, pool_h, pool_w, stride, pad, dilation, ceil_mode), out)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = cnn_ext.maxpool_backward(dout, argmax, x.shape, pool_h, pool_w, stride, pad, dilation, ceil_mode)
    want = np.zeros(n * c * h * w, dtype)
    np.add.at(want, (positions + (np.arange(n * c) * h * w).reshape(n, c, 1, 1)).ravel(), dout.ravel())
    np.testing.assert_allclose(dx.ravel(), want, rtol=1e-6)


@pytest.mark.parametrize("size, window, stride, pad, dilation", [
    (8, 3, 2, 0, 1), (7, 2, 2, 0, 1), (5, 3, 2, 1, 1), (6, 3, 3, 1, 2), (10, 4, 3, 2, 1), (4, 2, 3, 1, 1)])
def test_ceil_mode_follows_pytorchs_rule(size, window, stride, pad, dilation):
    """PyTorch's output size: ceil((size + 2 pad - dilation (window - 1) - 1) / stride) + 1,
    less one when the last window would start in the end padding."""
    reach = dilation * (window - 1) + 1
    count = -(-(size + 2 * pad - reach) // stride) + 1
    if (count - 1) * stride >= size + pad:
        count -= 1
    assert output_size(size, window, stride, pad, dilation, ceil_mode=True) == count
    assert output_size(size, window, stride, pad, dilation) == (size + 2 * pad - reach) // stride + 1


def test_a_window_without_a_pixel_is_refused():
    with pytest.raises(ValueError) as error:
        cnn_ext.maxpool_forward(np.zeros((1, 1, 2, 8), np.float32), 3, 3, 1, ((0, 0), (0, 0)), dilation=(3, 1))
    check_message(error, ["pool_h=3", "larger than the padded input height 2"])
    with pytest.raises(ValueError) as error:
        cnn_ext.maxpool_forward(np.zeros((1, 1, 4, 4), np.float32), 2, 2, pad=((2, 0), (0, 0)))
    check_message(error, ["pad must be at most (pool_h - 1) * dilation = 1", "((2, 0), (0, 0))"])
    with pytest.raises(TypeError) as error:
        cnn_ext.maxpool(np.zeros((1, 1, 4, 4), np.float32), 2, 2, ceil_mode=1)
    check_message(error, ["ceil_mode", "True or False"])
