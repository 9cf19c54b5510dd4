"""The one geometry vocabulary (cnn_ext.geometry) against loops that place windows one by one,
and the one routing table (choose_engine)."""

import numpy as np
import pytest

from cnn_ext.convolution import choose_engine
from cnn_ext.geometry import conv_geometry, output_size, pair, pool_strides, reach


def placed_windows(size, window, stride, before, after, dilation):
    """Windows placed one by one at steps of ``stride`` over the padded axis, each kept while its
    last entry (``dilation - 1`` pixels skipped between entries) is still inside."""
    padded = size + before + after
    count, start = 0, 0
    while start + dilation * (window - 1) < padded:
        count += 1
        start += stride
    return count


@pytest.mark.parametrize("size", [1, 5, 28, 31])
@pytest.mark.parametrize("window", [1, 2, 3, 5])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("pad", [0, 1, (0, 2), (3, 1)], ids=["pad0", "pad1", "pad0-2", "pad3-1"])
@pytest.mark.parametrize("dilation", [1, 2])
def test_output_size_counts_the_windows_that_fit(size, window, stride, pad, dilation):
    before, after = pad if isinstance(pad, tuple) else (pad, pad)
    expected = placed_windows(size, window, stride, before, after, dilation)
    if expected == 0:
        with pytest.raises(ValueError, match=f"window={window}.* is larger than the padded input"):
            output_size(size, window, stride, pad, dilation)
    else:
        assert output_size(size, window, stride, pad, dilation) == expected


def test_reach_spans_the_dilated_window():
    assert [reach(3, 1), reach(3, 2), reach(5, 3), reach(1, 7)] == [3, 5, 13, 1]


def test_pairs_and_pooling_strides_resolve_in_one_place():
    assert pair("stride", 2, 1) == (2, 2) and pair("stride", (1, 3), 1) == (1, 3)
    assert pool_strides(3, 2, None) == (3, 2) and pool_strides(3, 2, 1) == (1, 1)
    with pytest.raises(ValueError, match="stride must be an integer or a pair"):
        pair("stride", (1, 2, 3), 1)
    with pytest.raises(ValueError, match="stride"):
        pool_strides(2, 2, 0)


@pytest.mark.parametrize("dtype, weight_shape, settings, backward, engine", [
    (np.float32, (8, 4, 3, 3), dict(pad=1), False, "direct"),
    (np.float32, (8, 4, 3, 3), dict(pad=1), True, "direct"),
    (np.float32, (8, 4, 3, 3), dict(pad=3), False, "direct"),
    (np.float32, (8, 4, 3, 3), dict(pad=3), True, "unfold"),  # dx would pad dout by -1
    (np.float64, (8, 4, 3, 3), dict(pad=1), True, "direct"),
    (np.float32, (8, 4, 3, 3), dict(pad=1, stride=2), False, "direct"),
    (np.float64, (8, 4, 3, 3), dict(pad=4, stride=3), True, "direct"),  # any pad: phase planes
    (np.float32, (8, 4, 1, 1), dict(stride=2), False, "direct"),
    (np.float32, (8, 4, 1, 1), dict(stride=2), True, "unfold"),  # one product beats the tiles
    (np.float32, (8, 4, 1, 1), dict(stride=1), True, "direct"),
    (np.float32, (8, 4, 3, 3), dict(pad=1, stride=(2, 1)), False, "unfold"),
    (np.float32, (8, 4, 3, 3), dict(pad=(1, 2), stride=2), False, "unfold"),
    (np.float32, (8, 4, 3, 3), dict(pad=(1, 0)), False, "unfold"),
    (np.float32, (8, 4, 3, 3), dict(pad=1, dilation=2), False, "unfold"),
    (np.float32, (8, 2, 3, 3), dict(pad=1, groups=2), False, "unfold"),
    (np.float32, (8, 1, 3, 3), dict(pad=1, groups=4), False, "depthwise"),
    (np.float64, (4, 1, 3, 3), dict(pad=1, groups=4, stride=2), True, "depthwise"),
], ids=["direct", "direct-backward", "direct-wide-pad", "wide-pad-backward", "float64",
        "stride", "stride-3-wide-pad", "1x1-stride", "1x1-stride-backward", "1x1-backward",
        "uneven-stride", "stride-uneven-pad", "uneven-pad", "dilation", "groups", "depthwise", "depthwise-float64"])
def test_choose_engine_routes_each_case(dtype, weight_shape, settings, backward, engine,
                                        winograd_setting):
    winograd_setting("auto")
    x = np.zeros((2, 4, 9, 9), dtype)
    W = np.zeros(weight_shape, dtype)
    geometry = conv_geometry(x.shape, W.shape, **settings)
    assert choose_engine(x, W, geometry, backward) == engine


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_input_channel_in_one_group_is_an_ordinary_convolution(dtype, winograd_setting,
                                                                    engine="direct"):
    winograd_setting("auto")
    x, W = np.zeros((2, 1, 28, 28), dtype), np.zeros((30, 1, 5, 5), dtype)
    geometry = conv_geometry(x.shape, W.shape)
    assert choose_engine(x, W, geometry) == engine
    assert choose_engine(x, W, geometry, backward=True) == engine
