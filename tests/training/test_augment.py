"""Data augmentation: the transforms against plain references, the Trainer's use of them
(training batches only, seeded, resumed bit for bit), and bad arguments."""

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from cnn.augment import Compose, RandomAffine, RandomShift, Transform
from cnn.layers import Affine, Flatten, Layer, Relu
from cnn.models import Sequential
from cnn.optim import Adam
from cnn.trainer import Trainer


def shift_reference(x, shifts):
    """Image by image: moved by (dy, dx), zeros where nothing comes in."""
    out = np.zeros_like(x)
    _, _, height, width = x.shape
    for n, (dy, dx) in enumerate(shifts):
        for row in range(height):
            for column in range(width):
                source_row, source_column = row - dy, column - dx
                if 0 <= source_row < height and 0 <= source_column < width:
                    out[n, :, row, column] = x[n, :, source_row, source_column]
    return out


@pytest.mark.parametrize("pixels", [1, 2, 3])
def test_random_shift_equals_a_loop_over_images(pixels, dtype):
    x = np.random.default_rng(0).standard_normal((6, 2, 7, 9)).astype(dtype)
    out = RandomShift(pixels)(x, np.random.default_rng(5))
    shifts = np.random.default_rng(5).integers(-pixels, pixels + 1, size=(6, 2))
    assert out.dtype == dtype and out.shape == x.shape and out.flags.c_contiguous
    assert_array_equal(out, shift_reference(x, shifts))


def affine_reference(x, angle, factor):
    """Pixel by pixel: rotate back and shrink, then bilinear with zeros outside."""
    _, height, width = x.shape
    out = np.zeros(x.shape)
    centre_y, centre_x = (height - 1) / 2, (width - 1) / 2
    cos, sin = np.cos(angle) / factor, np.sin(angle) / factor

    def pixel(channel, row, column):
        inside = 0 <= row < height and 0 <= column < width
        return x[channel, row, column] if inside else 0.0

    for row in range(height):
        for column in range(width):
            y, z = row - centre_y, column - centre_x
            source_y = cos * y - sin * z + centre_y
            source_x = sin * y + cos * z + centre_x
            top, left = int(np.floor(source_y)), int(np.floor(source_x))
            wy, wx = source_y - top, source_x - left
            for channel in range(x.shape[0]):
                out[channel, row, column] = (
                    (1 - wy) * (1 - wx) * pixel(channel, top, left) + (1 - wy) * wx * pixel(channel, top, left + 1)
                    + wy * (1 - wx) * pixel(channel, top + 1, left) + wy * wx * pixel(channel, top + 1, left + 1))
    return out


def test_random_affine_equals_a_pixel_by_pixel_bilinear_warp():
    x = np.random.default_rng(1).random((3, 2, 8, 11))
    out = RandomAffine(degrees=25, scale=0.3)(x, np.random.default_rng(7))
    draws = np.random.default_rng(7)
    angles = np.radians(draws.uniform(-25, 25, 3))
    factors = draws.uniform(0.7, 1.3, 3)
    for n in range(3):
        assert_allclose(out[n], affine_reference(x[n], angles[n], factors[n]), atol=1e-12)


def test_an_affine_warp_of_nothing_is_the_identity_and_far_shifts_empty_the_image(dtype):
    x = np.random.default_rng(2).random((4, 1, 28, 28)).astype(dtype)
    assert_allclose(RandomAffine(degrees=0, scale=0)(x, np.random.default_rng(0)), x, atol=1e-6)
    far = RandomShift(30)(x, np.random.default_rng(0))
    shifts = np.random.default_rng(0).integers(-30, 31, size=(4, 2))
    for n, (dy, dx) in enumerate(shifts):
        if abs(dy) >= 28 or abs(dx) >= 28:
            assert not far[n].any()


def test_compose_applies_in_turn_from_one_generator():
    x = np.random.default_rng(3).random((5, 1, 12, 12))
    composed = Compose([RandomAffine(10, 0.1), RandomShift(2)])(x, np.random.default_rng(9))
    by_hand = np.random.default_rng(9)
    assert_array_equal(composed, RandomShift(2)(RandomAffine(10, 0.1)(x, by_hand), by_hand))


class Recorder(Transform):
    """Records the batches it sees and returns them unchanged."""

    def __init__(self):
        self.sizes = []

    def __call__(self, x, rng):
        self.sizes.append(len(x))
        return x


def data():
    rng = np.random.default_rng(0)
    x = rng.random((40, 1, 6, 6))
    t = (x[:, 0, :3].sum(axis=(1, 2)) > x[:, 0, 3:].sum(axis=(1, 2))).astype(int)
    return x, t


def small_model(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential([Flatten(), Affine(rng.standard_normal((36, 8)) * 0.3, np.zeros(8)), Relu(),
                       Affine(rng.standard_normal((8, 2)) * 0.3, np.zeros(2))])


def test_only_training_batches_are_augmented_and_labels_are_left_alone():
    x, t = data()
    recorder = Recorder()
    model = small_model()
    Trainer(model, Adam(lr=0.01), batch_size=16, log=None, augment=recorder).fit(
        x, t, epochs=2, x_test=x[:10], t_test=t[:10])
    assert recorder.sizes == [16, 16, 8] * 2  # the evaluations and the training sample: never
    plain = small_model()
    Trainer(plain, Adam(lr=0.01), batch_size=16, log=None).fit(x, t, epochs=2)
    for mine, reference in zip(model.params, plain.params):
        assert_array_equal(mine, reference)  # an identity transform changes nothing at all


def test_augmented_runs_repeat_bit_for_bit_and_resume_bit_for_bit(tmp_path):
    x, t = data()
    augment = Compose([RandomAffine(15, 0.1), RandomShift(1)])
    runs = []
    for seed in (0, 0, 1):
        model = small_model()
        Trainer(model, Adam(lr=0.01), batch_size=16, log=None, seed=seed, augment=augment).fit(x, t, 3)
        runs.append(model.params)
    assert all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1]))
    assert not all(np.array_equal(a, b) for a, b in zip(runs[0], runs[2]))
    checkpoint = tmp_path / "checkpoint.npz"
    first = small_model()
    Trainer(first, Adam(lr=0.01), batch_size=16, log=None, augment=augment,
            checkpoint=checkpoint).fit(x, t, 1)
    resumed = small_model(seed=4)
    Trainer(resumed, Adam(lr=0.01), batch_size=16, log=None, augment=augment,
            checkpoint=checkpoint).fit(x, t, 3, resume=True)
    for mine, reference in zip(resumed.params, runs[0]):
        assert_array_equal(mine, reference)
    with np.load(checkpoint) as saved:
        assert json.loads(str(saved["meta"]))["augment"] == repr(augment)
    with pytest.raises(ValueError, match="written with augment=.*this run has augment=None"):
        Trainer(small_model(), Adam(lr=0.01), batch_size=16, log=None,
                checkpoint=checkpoint).fit(x, t, 4, resume=True)


def test_the_training_accuracy_is_measured_in_inference_mode():
    class HalfDropped(Layer):
        """Zeroes every score in training mode (as a dropout after the last layer may)."""

        def forward(self, x, train=True):
            return x * 0 if train else x

        def backward(self, dout):
            return dout * 0

    x, t = data()
    model = small_model()
    model.layers.append(HalfDropped())
    history = Trainer(model, Adam(lr=0.01), batch_size=16, log=None, train_sample=25).fit(x, t, 1)
    sample = np.sort(np.random.default_rng([0, 2]).choice(40, 25, replace=False))
    assert history[0]["train_acc"] == pytest.approx(model.accuracy(x[sample], t[sample]))
    assert history[0]["batch_acc"] == pytest.approx(np.mean(t == 0))  # argmax of zeros: class 0


@pytest.mark.parametrize("call, exception, words", [
    (lambda: RandomShift(0), ValueError, ["pixels", "positive", "0"]),
    (lambda: RandomShift(1.5), TypeError, ["pixels", "integer"]),
    (lambda: RandomAffine(degrees=-5), ValueError, ["degrees", "-5"]),
    (lambda: RandomAffine(scale=1.5), ValueError, ["scale", "1.5"]),
    (lambda: Compose([]), ValueError, ["transforms", "empty"]),
    (lambda: Compose([RandomShift(1), "flip"]), TypeError, ["transforms[1]", "Transform", "flip"]),
    (lambda: RandomShift(1)(np.zeros((3, 28, 28)), np.random.default_rng()), TypeError,
     ["x", "(N, C, H, W)", "(3, 28, 28)"]),
    (lambda: Trainer(small_model(), Adam(lr=0.1), augment="shift"), TypeError,
     ["augment", "cnn.augment.Transform", "shift"]),
    (lambda: Trainer(small_model(), Adam(lr=0.1), train_sample=0), ValueError, ["train_sample", "0"]),
])
def test_bad_arguments_are_refused_by_name(call, exception, words):
    with pytest.raises(exception) as error:
        call()
    for word in words:
        assert word in str(error.value), str(error.value)
