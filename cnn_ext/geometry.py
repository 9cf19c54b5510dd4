"""The geometry of a window sliding over an image, for convolutions and poolings alike: the one
place that resolves what a caller may pass (an int, a pair, pairs of sides, ``None`` for a
pooling's stride), spans a dilated window (:func:`reach`) and counts its positions
(:func:`output_size`, the project's one output-size formula). Kernels, layers, interop and the
demo all ask it.

>>> output_size(28, 5, pad=2), output_size(28, 2, stride=2), output_size(7, 3, dilation=2)
(28, 14, 3)
>>> geometry = conv_geometry((1, 3, 32, 32), (8, 3, 3, 3), stride=2, pad=1)
>>> geometry.out_h, geometry.out_w
(16, 16)
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

from cnn_ext._checks import check_int, describe

__all__ = ["ConvGeometry", "conv_geometry", "PoolGeometry", "pool_geometry", "pair", "side_pads",
           "pool_strides", "compact", "compact_pad", "reach", "output_size", "check_pool_pad"]


@dataclass(frozen=True)
class ConvGeometry:
    """A checked convolution geometry and the size of its output.

    ``pad`` is ``((top, bottom), (left, right))``; the window of filter entry ``(kh, kw)`` at
    output ``(oh, ow)`` reads input row ``oh * stride_h - top + kh * dilation_h`` and column
    ``ow * stride_w - left + kw * dilation_w``."""

    filter_h: int
    filter_w: int
    stride: tuple[int, int]
    pad: tuple[tuple[int, int], tuple[int, int]]
    dilation: tuple[int, int]
    groups: int
    out_h: int
    out_w: int

    @property
    def padded_shape(self) -> tuple[int, int]:
        """Rows and columns of padding added to an image: ``(top + bottom, left + right)``."""
        (top, bottom), (left, right) = self.pad
        return top + bottom, left + right

    @property
    def plain(self) -> bool:
        """Whether it is the book's convolution: one group, no dilation, the same pad on both
        sides of each axis (what the direct kernels compute)."""
        (top, bottom), (left, right) = self.pad
        return self.groups == 1 and self.dilation == (1, 1) and top == bottom and left == right


def pair(name: str, value: Any, minimum: int) -> tuple[int, int]:
    """``value`` as ``(for rows, for columns)``: an int for both, or a pair."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an integer or a pair (for rows, for columns), got "
                             f"{describe(value)}")
        return check_int(name, value[0], minimum), check_int(name, value[1], minimum)
    value = check_int(name, value, minimum)
    return value, value


def pool_strides(pool_h: int, pool_w: int, stride: Any) -> tuple[int, int]:
    """``(stride_h, stride_w)`` of a pooling window: ``None`` means the window's size, as in the
    book and PyTorch; otherwise an int or a pair, as :func:`pair` reads it."""
    return (pool_h, pool_w) if stride is None else pair("stride", stride, 1)


def reach(window: int, dilation: int = 1) -> int:
    """Pixels a window of ``window`` entries spans with ``dilation - 1`` skipped between entries:
    ``dilation * (window - 1) + 1``."""
    return dilation * (window - 1) + 1


def output_size(size: int, window: int, stride: int = 1, pad: Any = 0, dilation: int = 1,
                ceil_mode: bool = False) -> int:
    """Window positions along one axis: ``(size + before + after - reach) // stride + 1``, with
    ``pad`` an int for both sides or ``(before, after)`` and ``reach`` from :func:`reach`; the
    book's ``(size + 2 * pad - window) // stride + 1``. With ``ceil_mode`` a last window that
    hangs past the end counts too, unless it would start in the end padding.

    The one output-size formula of the project. Raises ``ValueError`` when the window does not
    fit in the padded input.

    Example:
        >>> output_size(28, 5, stride=1, pad=2), output_size(28, 2, stride=2)
        (28, 14)
    """
    before, after = pair("pad", pad, 0)
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"ceil_mode must be True or False, got {describe(ceil_mode)}")
    return positions(check_int("size", size, 1), check_int("window", window, 1),
                     check_int("stride", stride, 1), before, after,
                     check_int("dilation", dilation, 1), ceil_mode, "size", "window")


def positions(size: int, window: int, stride: int, before: int, after: int, dilation: int,
              ceil_mode: bool, axis: str, name: str) -> int:
    """:func:`output_size` of checked integers; the ``ValueError`` names the window ``name``
    and the ``axis``."""
    span = reach(window, dilation)
    padded = size + before + after
    if span > padded:
        dilated = f" dilated by {dilation} to {span}" if dilation > 1 else ""
        raise ValueError(f"{name}={window}{dilated} is larger than the padded input {axis} "
                         f"{padded} ({axis} {size} + pad {before} + {after})")
    count = (-(-(padded - span) // stride) if ceil_mode else (padded - span) // stride) + 1
    if ceil_mode and (count - 1) * stride >= size + before:
        count -= 1
    return count


def side_pads(pad: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    """``pad`` as ``((top, bottom), (left, right))``: an int for every side, a pair
    ``(rows, columns)`` for both sides of each axis, or the two pairs themselves."""
    if isinstance(pad, (tuple, list)) and len(pad) == 2 and \
            all(isinstance(side, (tuple, list)) for side in pad):
        return pair("pad", pad[0], 0), pair("pad", pad[1], 0)
    if isinstance(pad, (tuple, list)) and not all(isinstance(side, numbers.Integral) for side in pad):
        raise ValueError(f"pad must be an integer, a pair (rows, columns) or ((top, bottom), "
                         f"(left, right)), got {describe(pad)}")
    rows, columns = pair("pad", pad, 0)
    return (rows, rows), (columns, columns)


def compact(values: tuple[int, int]) -> Any:
    """One number for a pair of equal ones: the short form of a stride or a dilation."""
    return values[0] if values[0] == values[1] else tuple(values)


def compact_pad(pads: tuple[tuple[int, int], tuple[int, int]]) -> Any:
    """The shortest form of ``((top, bottom), (left, right))``: an int, (rows, columns), or the
    sides themselves."""
    (top, bottom), (left, right) = pads
    if top == bottom and left == right:
        return compact((top, left))
    return tuple(tuple(sides) for sides in pads)


def conv_geometry(input_shape, weight_shape, stride: Any = 1, pad: Any = 0, dilation: Any = 1,
                  groups: Any = 1) -> ConvGeometry:
    """The checked geometry of a convolution of images ``input_shape`` (N, C, H, W) with filters
    ``weight_shape`` (OC, C // groups, filter_h, filter_w).

    Raises ``ValueError`` naming the argument for channels that do not split into ``groups``,
    a filter channel count that is not ``C // groups``, and a window that does not fit."""
    _, channels, height, width = input_shape
    out_channels, filter_channels, filter_h, filter_w = weight_shape
    strides, pads, dilations = pair("stride", stride, 1), side_pads(pad), pair("dilation", dilation, 1)
    groups = check_int("groups", groups, 1)
    if channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must divide the input channels ({channels}) and the "
                         f"output channels ({out_channels})")
    if filter_channels * groups != channels:
        raise ValueError(f"W must have {channels // groups} input channels (x.shape[1] // groups "
                         f"= {channels} // {groups}) in W.shape[1], got W of shape "
                         f"{tuple(weight_shape)}")
    sizes = [positions(size, window, step, before, after, spread, False, axis, name)
             for axis, size, window, step, (before, after), spread, name in (
                 ("height", height, filter_h, strides[0], pads[0], dilations[0], "filter_h"),
                 ("width", width, filter_w, strides[1], pads[1], dilations[1], "filter_w"))]
    return ConvGeometry(filter_h, filter_w, strides, pads, dilations, groups, *sizes)


@dataclass(frozen=True)
class PoolGeometry:
    """A checked pooling window: size, strides, ``pad`` ((top, bottom), (left, right)) as given,
    dilation, and the output size, which ``ceil_mode`` rounds up (a window may then hang past
    the bottom or right padding, as in PyTorch and ONNX)."""

    pool_h: int
    pool_w: int
    stride: tuple[int, int]
    pad: tuple[tuple[int, int], tuple[int, int]]
    dilation: tuple[int, int]
    ceil_mode: bool
    out_h: int
    out_w: int

    @property
    def simple(self) -> bool:
        """The book's window: no dilation, the same pad on all four sides, no ceil rounding."""
        (top, bottom), (left, right) = self.pad
        return self.dilation == (1, 1) and top == bottom == left == right and not self.ceil_mode


def pool_geometry(input_shape, pool_h: Any, pool_w: Any, stride: Any = None, pad: Any = 0,
                  dilation: Any = 1, ceil_mode: bool = False, padding_wins: bool = False) -> PoolGeometry:
    """The checked geometry of a pooling of images ``input_shape`` (N, C, H, W).

    ``stride`` None means the window size. Unless ``padding_wins`` (average pooling, where a
    padded cell counts as a zero), every window must hold at least one pixel of the image, since
    max pooling never lets the padding win: ``ValueError`` otherwise, naming the pad."""
    pool_h, pool_w = check_int("pool_h", pool_h, 1), check_int("pool_w", pool_w, 1)
    strides = pool_strides(pool_h, pool_w, stride)
    pads, dilations = side_pads(pad), pair("dilation", dilation, 1)
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"ceil_mode must be True or False, got {describe(ceil_mode)}")
    if not padding_wins:
        check_pool_pad(pool_h, pool_w, pads, dilations)
    _, _, height, width = input_shape
    sizes = []
    for axis, size, window, step, (before, after), spread, name in (
            ("height", height, pool_h, strides[0], pads[0], dilations[0], "pool_h"),
            ("width", width, pool_w, strides[1], pads[1], dilations[1], "pool_w")):
        count = positions(size, window, step, before, after, spread, ceil_mode, axis, name)
        if not padding_wins and not all(_holds_a_pixel(index * step - before, window, spread, size)
                                        for index in range(count)):
            raise ValueError(f"pad={compact_pad(pads)} leaves a {window}-wide window along the "
                             f"{axis} with no pixel of the image; max pooling needs one in each "
                             f"(a pad of at most half the window always leaves one)")
        sizes.append(count)
    return PoolGeometry(pool_h, pool_w, strides, pads, dilations, ceil_mode, *sizes)


def check_pool_pad(pool_h: int, pool_w: int, pads, dilation: tuple[int, int] = (1, 1)) -> None:
    """Max pooling's padding ``((top, bottom), (left, right))``: each window must hold at least
    one pixel, since padding never wins, so no side may pad more than the window's reach less one,
    ``(pool - 1) * dilation``."""
    for name, window, spread, sides in (("pool_h", pool_h, dilation[0], pads[0]),
                                        ("pool_w", pool_w, dilation[1], pads[1])):
        limit = reach(window, spread) - 1
        if max(sides) > limit:
            raise ValueError(f"pad must be at most ({name} - 1) * dilation = {limit} on each side, "
                             f"so that every window holds a pixel, got pad={_pad_text(pads)}")


def _pad_text(pads) -> str:
    (top, bottom), (left, right) = pads
    return str(top) if top == bottom == left == right else str(pads)


def _holds_a_pixel(start: int, window: int, spread: int, size: int) -> bool:
    """Whether the window of entries ``start + j * spread`` (j < window) meets [0, size)."""
    first = start if start >= 0 else start - (start // spread) * spread  # the first entry >= 0
    return first < size and first < start + reach(window, spread)
