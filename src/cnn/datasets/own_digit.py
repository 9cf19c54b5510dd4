"""Your own digit, drawn anywhere, turned into what MNIST's models expect.

MNIST's digits are white on black, 28x28 pixels, the digit scaled to fit a 20x20 box and placed so
that its centre of mass sits at the image's centre. :func:`prepare_digit` does the same to any
image of a dark digit on a light ground (or the other way round), :func:`prepare_ink` to an
image of ink values (the draw-a-digit page's); :func:`load_digit` reads it from
an image file first (through Pillow, which comes with matplotlib: ``pip install "cnn-ext[plot]"``).
"""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np

__all__ = ["prepare_digit", "prepare_ink", "load_digit", "MAX_IMAGE_PIXELS"]

SIZE, BOX = 28, 20
#: The largest image :func:`load_digit` decodes (a 24-megapixel photo fits).
MAX_IMAGE_PIXELS = 25_000_000
# Larger images are shrunk (by area) to this longer side before anything else.
WORKING_SIDE = 1024


def load_digit(path: str | os.PathLike) -> np.ndarray:
    """Read an image file of one handwritten digit as an MNIST sample (1, 1, 28, 28) float32 in [0, 1].

    Any format Pillow reads (PNG, JPEG, ...). The image's size is read from its header first:
    one of more than :data:`MAX_IMAGE_PIXELS` pixels is refused before it is decoded.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: naming the file, for one that is not a readable image, too large, or
            holds no digit.
        ImportError: without Pillow (``pip install "cnn-ext[plot]"``).

    Example:
        >>> x = load_digit("examples/digits/seven.png")  # doctest: +SKIP
        >>> model.predict(x).argmax()  # doctest: +SKIP
        7
    """
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError('reading image files needs Pillow: pip install "cnn-ext[plot]"') from error
    if not os.path.isfile(path):
        raise FileNotFoundError(f"path: no image file at {os.fspath(path)!r}")
    path = os.fspath(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise ValueError(f"{width}x{height} pixels, more than the {MAX_IMAGE_PIXELS} "
                                 f"this loader decodes; shrink it first")
            image.load()
            if max(width, height) > WORKING_SIDE:
                image.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.BOX)
            pixels = _pixels(image)
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error, struct.error,
            Image.DecompressionBombError) as error:  # what Pillow's decoders raise on bad files
        raise ValueError(f"path: {path!r} is not a readable image of a digit ({error})") from None
    try:
        return prepare_digit(pixels)
    except ValueError as error:
        raise ValueError(f"path: {path!r}: {error}") from None


def _pixels(image) -> np.ndarray:
    """The image as an array prepare_digit reads: uint8 grey or RGBA, or floats in [0, 1]."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16- and 32-bit grey
        grey = np.asarray(image, dtype=np.float64)
        low, high = grey.min(), grey.max()
        return (grey - low) / (high - low) if high > low else np.zeros_like(grey)
    return np.asarray(image.convert("L" if image.mode in ("1", "L") else "RGBA"))


def prepare_digit(image: np.ndarray) -> np.ndarray:
    """Turn an image (H, W), (H, W, 3) or (H, W, 4) of one digit into an MNIST sample (1, 1, 28, 28).

    Steps: grey (transparent pixels count as the background), inverted when the ground is light
    (MNIST's ink is bright), the ground brought to 0, then :func:`prepare_ink`.
    """
    grey = _grey(np.asarray(image))
    ink = 1 - grey if np.median(grey) > 0.5 else grey
    try:
        return prepare_ink(np.clip(ink - np.median(ink), 0, None))
    except ValueError:
        raise ValueError("image: no digit found (every pixel has the colour of the ground)") from None


def prepare_ink(ink: np.ndarray) -> np.ndarray:
    """Turn an ink image (H, W) (0 the ground, larger values more ink) into an MNIST sample
    (1, 1, 28, 28) float32 in [0, 1].

    Cropped to the ink (pixels above a tenth of the most ink), scaled so that its longer side is
    20 pixels (averaging the pixels each new one covers), placed in 28x28 with its centre of mass
    at the centre, and scaled so that the most ink is 1.

    Raises:
        ValueError: naming ``ink`` when no pixel holds ink.
    """
    ink = np.asarray(ink, dtype=np.float64)
    rows, columns = np.nonzero(ink > 0.1 * ink.max()) if ink.max() > 0 else ((), ())
    if len(rows) == 0:
        raise ValueError("ink: no digit found (no pixel holds ink)")
    ink = ink[rows.min():rows.max() + 1, columns.min():columns.max() + 1]
    scale = BOX / max(ink.shape)
    height, width = (max(1, int(round(side * scale))) for side in ink.shape)
    ink = _resize_area(ink, height, width)
    sample = np.zeros((SIZE, SIZE))
    mass_row, mass_column = (np.sum(ink * axis) / ink.sum() for axis in np.indices(ink.shape))
    top = int(np.clip(round(SIZE / 2 - 0.5 - mass_row), 0, SIZE - height))
    left = int(np.clip(round(SIZE / 2 - 0.5 - mass_column), 0, SIZE - width))
    sample[top:top + height, left:left + width] = ink
    return (sample / sample.max()).astype(np.float32).reshape(1, 1, SIZE, SIZE)


def _grey(image: np.ndarray) -> np.ndarray:
    """Grey values in [0, 1] of an image (H, W), (H, W, 3) or (H, W, 4), alpha included: each
    channel is scaled to [0, 1] first (integers, or floats above 1, count to 255), then the
    colours are weighted to grey and laid over the white ground as their alpha says."""
    if not (image.ndim == 2 or image.ndim == 3 and image.shape[2] in (3, 4)):
        raise ValueError(f"image must be (H, W), (H, W, 3) or (H, W, 4), got shape {image.shape}")
    scale = 255.0 if image.dtype.kind in "ui" or image.max() > 1 else 1.0
    image = image.astype(np.float64) / scale
    if image.ndim == 2:
        return image
    grey = image[..., :3] @ np.array([0.299, 0.587, 0.114])
    if image.shape[2] == 4:  # transparent pixels show the (white) ground
        alpha = image[..., 3]
        grey = alpha * grey + (1 - alpha)
    return grey


def _resize_area(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resample by averaging: each new pixel is the mean of the old pixels it covers (in part)."""
    return _area_weights(image.shape[0], height) @ image @ _area_weights(image.shape[1], width).T


def _area_weights(size: int, new_size: int) -> np.ndarray:
    """(new_size, size): how much of each old pixel falls into each new one, rows summing to 1."""
    edges = np.linspace(0, size, new_size + 1)
    starts, stops = edges[:-1, None], edges[1:, None]
    pixels = np.arange(size)[None, :]
    overlap = np.clip(np.minimum(stops, pixels + 1) - np.maximum(starts, pixels), 0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)
