"""Data augmentation: random transforms of a training batch of images, drawn afresh each step.

A transform maps a batch x (N, C, H, W) and a ``numpy.random.Generator`` to a new batch of
the same shape and dtype; the labels are never touched. The :class:`~cnn.trainer.Trainer`
owns the generator (seeded from its ``seed``, saved in its checkpoints), so the same seed gives
the same run bit for bit, resumed or not; the test set is never augmented.

    Trainer(model, Adam(lr=1e-3), augment=RandomShift(2))                       # +-2 pixels
    Trainer(model, Adam(lr=1e-3), augment=Compose([RandomAffine(10, 0.1), RandomShift(2)]))

Both transforms are vectorised over the batch (one gather per batch, no Python loop over
images), and fill what comes in from outside the image with zeros (MNIST's background).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cnn._checks import check_float, check_int, describe

__all__ = ["Transform", "RandomShift", "RandomAffine", "Compose"]


class Transform:
    """The contract: ``transform(x, rng) -> x'``, x and x' of shape (N, C, H, W), same dtype."""

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _check_images(x) -> np.ndarray:
    if not isinstance(x, np.ndarray) or x.ndim != 4 or x.dtype not in (np.float32, np.float64):
        raise TypeError(f"x must be a float32 or float64 array of images (N, C, H, W), got "
                        f"{describe(x)}")
    return x


class RandomShift(Transform):
    """Move each image by a whole number of pixels, drawn uniformly from -pixels to pixels along
    each axis (independently), filling with zeros.

    Example:
        >>> x = np.zeros((1, 1, 5, 5), np.float32); x[0, 0, 2, 2] = 1
        >>> moved = RandomShift(2)(x, np.random.default_rng(0))
        >>> float(moved.sum()), moved.shape
        (1.0, (1, 1, 5, 5))
    """

    def __init__(self, pixels: int = 2) -> None:
        self.pixels = check_int("pixels", pixels, 1)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = _check_images(x)
        n_images, _, height, width = x.shape
        k = self.pixels
        shifts = rng.integers(-k, k + 1, size=(n_images, 2))  # (dy, dx) per image
        padded = np.pad(x, ((0, 0), (0, 0), (k, k), (k, k)))
        rows = (k - shifts[:, :1]) + np.arange(height)  # (N, H): source rows of each image
        columns = (k - shifts[:, 1:]) + np.arange(width)  # (N, W)
        images = np.arange(n_images)[:, None, None]
        # advanced indices around a slice: the result is (N, H, W, C)
        return np.ascontiguousarray(padded[images, :, rows[:, :, None], columns[:, None, :]]
                                    .transpose(0, 3, 1, 2))

    def __repr__(self) -> str:
        return f"RandomShift({self.pixels})"


class RandomAffine(Transform):
    """Rotate each image about its centre by an angle drawn from -degrees to degrees and scale it
    by a factor drawn from 1 - scale to 1 + scale, sampling bilinearly; zeros come in from outside.

    Example:
        >>> x = np.ones((2, 1, 8, 8), np.float32)
        >>> RandomAffine(degrees=10, scale=0.1)(x, np.random.default_rng(0)).shape
        (2, 1, 8, 8)
    """

    def __init__(self, degrees: float = 10.0, scale: float = 0.1) -> None:
        self.degrees = check_float("degrees", degrees, 0.0, 180.0, low_inclusive=True,
                                   high_inclusive=True)
        self.scale = check_float("scale", scale, 0.0, 1.0, low_inclusive=True)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = _check_images(x)
        n_images, channels, height, width = x.shape
        angles = np.radians(rng.uniform(-self.degrees, self.degrees, n_images))
        factors = rng.uniform(1 - self.scale, 1 + self.scale, n_images)
        # For every output pixel, its source: rotated back by the angle, shrunk by the factor.
        centre_y, centre_x = (height - 1) / 2, (width - 1) / 2
        ys, xs = np.meshgrid(np.arange(height) - centre_y, np.arange(width) - centre_x, indexing="ij")
        cos = (np.cos(angles) / factors).astype(x.dtype)[:, None]
        sin = (np.sin(angles) / factors).astype(x.dtype)[:, None]
        ys, xs = ys.ravel().astype(x.dtype), xs.ravel().astype(x.dtype)
        source_y = cos * ys - sin * xs + x.dtype.type(centre_y)  # (N, H*W)
        source_x = sin * ys + cos * xs + x.dtype.type(centre_x)
        # A border of 2 zeros: every neighbour of a source clamped to [-2, size] lies inside.
        top = np.clip(np.floor(source_y), -2, height)
        left = np.clip(np.floor(source_x), -2, width)
        weight_y = np.clip(source_y - top, 0, 1)
        weight_x = np.clip(source_x - left, 0, 1)
        padded_w = width + 4
        planes = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2))).reshape(n_images, channels, -1)
        index = ((top + 2) * padded_w + (left + 2)).astype(np.intp)[:, None, :]
        images = np.arange(n_images)[:, None, None]
        channel = np.arange(channels)[None, :, None]

        top_left, top_right, bottom_left, bottom_right = (
            planes[images, channel, index + offset] for offset in (0, 1, padded_w, padded_w + 1))
        weight_y, weight_x = weight_y[:, None, :], weight_x[:, None, :]
        upper = top_left + weight_x * (top_right - top_left)
        lower = bottom_left + weight_x * (bottom_right - bottom_left)
        return (upper + weight_y * (lower - upper)).reshape(x.shape)

    def __repr__(self) -> str:
        return f"RandomAffine(degrees={self.degrees:g}, scale={self.scale:g})"


class Compose(Transform):
    """Apply ``transforms`` in turn, each drawing from the same generator.

    Example:
        >>> Compose([RandomAffine(10, 0.1), RandomShift(2)])
        Compose([RandomAffine(degrees=10, scale=0.1), RandomShift(2)])
    """

    def __init__(self, transforms: Sequence[Transform]) -> None:
        transforms = list(transforms)
        for index, transform in enumerate(transforms):
            if not isinstance(transform, Transform):
                raise TypeError(f"transforms[{index}] must be a cnn.augment.Transform, got "
                                f"{describe(transform)}")
        if not transforms:
            raise ValueError("transforms must hold at least one transform, got an empty sequence")
        self.transforms = transforms

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for transform in self.transforms:
            x = transform(x, rng)
        return x

    def __repr__(self) -> str:
        return f"Compose([{', '.join(repr(transform) for transform in self.transforms)}])"
