"""Own digits in MNIST's form: grey, inverted, cropped, 20x20 box, centred by mass in 28x28."""

from pathlib import Path

import numpy as np
import pytest

from cnn.datasets import load_digit, prepare_digit, prepare_ink
from extras import optional
from paths import ROOT

DIGITS = ROOT / "examples" / "digits"


def drawing(rgba=False, light_ground=True):
    """A 100x80 canvas with an L-shaped stroke off-centre."""
    canvas = np.ones((100, 80))
    canvas[10:70, 50:58] = 0
    canvas[62:70, 30:58] = 0
    if not light_ground:
        canvas = 1 - canvas
    if rgba:
        canvas = np.dstack([canvas] * 3 + [np.ones_like(canvas)])
    return canvas


@pytest.mark.parametrize("rgba, light_ground", [(False, True), (True, True), (False, False)])
def test_a_drawing_becomes_an_mnist_sample(rgba, light_ground):
    sample = prepare_digit(drawing(rgba, light_ground))
    assert sample.shape == (1, 1, 28, 28) and sample.dtype == np.float32
    assert sample.max() == 1.0 and sample.min() == 0.0
    image = sample[0, 0]
    rows, columns = np.nonzero(image > 0.05)
    assert max(rows.max() - rows.min() + 1, columns.max() - columns.min() + 1) == 20
    centre = [np.sum(image * axis) / image.sum() for axis in np.indices(image.shape)]
    np.testing.assert_allclose(centre, [13.5, 13.5], atol=0.5)


def test_ink_is_prepared_as_drawn_however_much_of_the_canvas_it_covers():
    ink = 1 - drawing()
    np.testing.assert_array_equal(prepare_ink(ink), prepare_digit(drawing()))
    heavy = np.zeros((40, 40))
    heavy[2:38, 2:38] = 1  # ink on most of the canvas: prepare_digit would take it for the ground
    sample = prepare_ink(heavy)[0, 0]
    assert sample[4:24, 4:24].min() == 1.0 and sample[:4].max() == 0.0
    with pytest.raises(ValueError, match="ink: no digit found"):
        prepare_ink(np.zeros((30, 30)))


def test_uint8_images_and_bad_images():
    as_bytes = (drawing() * 255).astype(np.uint8)
    np.testing.assert_allclose(prepare_digit(as_bytes), prepare_digit(drawing()), atol=1e-6)
    with pytest.raises(ValueError, match="no digit found"):
        prepare_digit(np.ones((30, 30)))
    with pytest.raises(ValueError, match=r"image must be .* got shape \(3, 4, 5, 6\)"):
        prepare_digit(np.ones((3, 4, 5, 6)))
    with pytest.raises(FileNotFoundError, match="no image file"):
        load_digit(DIGITS / "missing.png")


def test_a_uint8_rgba_drawing_shows_the_white_ground_through_its_transparent_pixels():
    """A card of white with a black stroke, on a transparent border: the stroke is the digit,
    as on the white ground the border shows, not the card."""
    rgba = np.zeros((100, 80, 4), np.uint8)          # transparent black all round
    rgba[5:95, 5:75] = 255                            # an opaque white card
    stroke = drawing() == 0
    rgba[stroke, :3] = 0                              # the opaque black stroke on it
    np.testing.assert_allclose(prepare_digit(rgba), prepare_digit(drawing()), atol=1e-6)


def test_a_uint8_rgba_drawing_with_mixed_alpha_reads_as_its_float_twin():
    rgba = np.dstack([(drawing() * 255).astype(np.uint8)] * 3 + [np.full((100, 80), 255, np.uint8)])
    rgba[10:40, 50:58, 3] = 128                       # half of the stroke half transparent
    rgba[:5, :, 3] = 0                                # a transparent band at the top
    np.testing.assert_allclose(prepare_digit(rgba), prepare_digit(rgba / 255.0), atol=1e-6)


def test_the_committed_digits_load():
    optional("matplotlib", 'reading PNG files needs the plot extra: pip install "cnn-ext[plot]"')
    for path in sorted(DIGITS.glob("*.png")):
        sample = load_digit(path)
        assert sample.shape == (1, 1, 28, 28) and sample.max() == 1.0, path.name
