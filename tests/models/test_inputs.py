"""Models take samples as users pass them: flat samples (N, C*H*W) as the book's load_mnist()
gives them, one sample without the batch axis in the predictions, class indices and
probabilities; a Sequential with input_shape checks its layers fit when it is built. (The
refusals and their messages are pinned in test_bad_inputs.py.)"""

import numpy as np
import pytest

from cnn.layers import (Affine, BatchNormalization, Convolution, Dropout, Flatten, Pooling, Relu,
                        SoftmaxWithLoss)
from cnn.models import DeepConvNet, LeNet, Sequential, SimpleConvNet
from cnn.optim import Adam
from cnn.trainer import Trainer

F32 = np.float32


def images(count, seed=0):
    return np.random.default_rng(seed).random((count, 1, 28, 28), dtype=F32)


def reference_softmax(scores):
    """Softmax written out for the test, in float64."""
    exps = np.exp(scores.astype(np.float64) - scores.max(axis=-1, keepdims=True))
    return exps / exps.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("make", [LeNet, SimpleConvNet, DeepConvNet])
def test_flat_samples_predict_as_the_images_they_are(make):
    model, x = make(seed=0), images(7)
    expected = model.predict(x)
    assert np.array_equal(model.predict(x.reshape(7, 784)), expected)
    assert np.array_equal(model.predict_batches(x.reshape(7, 784), batch_size=3),
                          model.predict_batches(x, batch_size=3))
    assert model.evaluate(x.reshape(7, 784), np.arange(7)) == model.evaluate(x, np.arange(7))


def test_array_likes_predict_as_the_arrays_they_hold_in_the_models_dtype():
    for dtype in (np.float32, np.float64):
        model, x = LeNet(seed=0, dtype=dtype), images(3).astype(dtype)
        np.testing.assert_array_equal(model.predict(x.tolist()), model.predict(x))
        np.testing.assert_array_equal(model.predict_classes(x[0].ravel().tolist()),
                                      model.predict_classes(x[0]))
        np.testing.assert_array_equal(model.predict_batches(x.tolist(), batch_size=2),
                                      model.predict_batches(x, batch_size=2))


def test_one_sample_without_the_batch_axis_gives_its_scores():
    model, x = LeNet(seed=0), images(1)
    for sample in (x[0], x[0].reshape(784)):
        scores = model.predict(sample)
        assert scores.shape == (10,)
        np.testing.assert_allclose(scores, model.predict(x)[0], rtol=1e-6, atol=1e-6)
        assert model.predict_classes(sample) == int(model.predict(x)[0].argmax())
        assert model.predict_proba(sample).shape == (10,)


def test_predict_classes_and_predict_proba_against_their_definitions():
    model, x = LeNet(seed=0), images(6)
    scores = model.predict(x)
    classes = model.predict_classes(x)
    assert classes.shape == (6,) and np.issubdtype(classes.dtype, np.integer)
    assert np.array_equal(classes, [int(np.argmax(row)) for row in scores])
    probabilities = model.predict_proba(x)
    assert probabilities.shape == (6, 10) and probabilities.dtype == F32
    np.testing.assert_allclose(probabilities, reference_softmax(scores), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # Huge scores do not overflow.
    huge = Sequential([Affine(np.eye(3, dtype=F32) * 1e4, np.zeros(3, F32))], input_shape=(3,))
    np.testing.assert_allclose(huge.predict_proba(np.array([[1.0, 0.0, 0.0]], F32)), [[1, 0, 0]])


def test_the_trainer_takes_flat_samples_and_trains_as_on_images(tmp_path):
    x, t = images(120), np.arange(120) % 10
    runs = []
    for data, test_data in ((x, x[:20]), (x.reshape(120, 784), x[:20].reshape(20, 784))):
        model = LeNet(seed=0)
        history = Trainer(model, Adam(lr=0.001), batch_size=40, log=None, progress=False).fit(
            data, t, 2, test_data, t[:20])
        runs.append((model.state_dict(), history))
    (state_images, history_images), (state_flat, history_flat) = runs
    assert all(np.array_equal(state_images[name], state_flat[name]) for name in state_images)
    assert [r["test_loss"] for r in history_images] == [r["test_loss"] for r in history_flat]


def test_models_without_an_input_shape_are_left_to_their_layers():
    model = Sequential([Affine.create(4, 3, rng=0)])
    assert model.predict(np.ones((2, 4), F32)).shape == (2, 3)
    with pytest.raises(ValueError, match=r"x must be an array of samples \(N, \.\.\.\), got shape \(4,\).*x\[None\]"):
        model.predict(np.ones(4, F32))
    with pytest.raises(ValueError, match=r"Affine: expected 4 features per sample, got input of shape \(2, 5\)"):
        model.predict(np.ones((2, 5), F32))


def test_a_sequential_with_input_shape_checks_its_layers_at_construction():
    fits = Sequential([Convolution.create(1, 4, 3, rng=0), Relu(), Flatten(), Affine.create(400, 10, rng=0)],
                      input_shape=(1, 12, 12))
    assert fits.predict(np.zeros((2, 1, 12, 12), F32)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"layers\[3\] \(Affine\(399->10\)\).*\(400,\)"):
        Sequential([Convolution.create(1, 4, 3, rng=0), Relu(), Flatten(), Affine.create(399, 10, rng=0)],
                   input_shape=(1, 12, 12))


def test_the_construction_check_leaves_the_layers_ready_for_training():
    layer = Dropout(0.5, seed=0)
    model = Sequential([Flatten(), Affine.create(4, 4, rng=0), layer], input_shape=(1, 2, 2))
    reference = Dropout(0.5, seed=0)
    x = np.ones((3, 4), F32)
    assert np.array_equal(layer.forward(x), reference.forward(x))  # no draw spent on the check
    model.forward(np.ones((3, 1, 2, 2), F32), np.zeros(3, int))
    model.backward()


def test_dropout_takes_the_books_keyword():
    assert Dropout(dropout_ratio=0.3).ratio == 0.3
    assert Dropout(0.3).ratio == Dropout(ratio=0.3).ratio == 0.3
    assert Dropout().ratio == 0.5
    x = np.ones((4, 50), F32)
    assert np.array_equal(Dropout(dropout_ratio=0.2, seed=1).forward(x), Dropout(0.2, seed=1).forward(x))


def test_every_constructor_keyword_of_the_books_layers_is_taken():
    """The book's layers (common/layers.py) and their keywords, built the book's way."""
    gamma, beta = np.full(3, 2.0, F32), np.full(3, 0.5, F32)
    mean, var = np.arange(3, dtype=F32), np.full(3, 4.0, F32)
    norm = BatchNormalization(gamma, beta, momentum=0.8, running_mean=mean, running_var=var)
    x = np.ones((2, 3), F32)
    expected = gamma * (x - mean) / np.sqrt(var + F32(1e-5)) + beta
    assert np.allclose(norm.forward(x, train=False), expected)
    mean[0] = 99  # the layer keeps its own copy
    assert norm.buffers[0][0] == 0
    assert np.array_equal(BatchNormalization(gamma, beta).buffers[1], np.ones(3, F32))
    assert repr(norm) == "BatchNormalization(3, momentum=0.8, eps=1e-05)"
    W, b = np.zeros((2, 1, 3, 3), F32), np.zeros(2, F32)
    assert repr(Convolution(W=W, b=b, stride=2, pad=1)) == "Convolution(1->2, 3x3, stride=2, pad=1)"
    assert repr(Pooling(pool_h=2, pool_w=2, stride=2, pad=0)) == "Pooling(2x2, stride=2, pad=0)"
    assert repr(Pooling(2, 2)) == "Pooling(2x2, stride=2, pad=0)"  # the stride resolved
    assert repr(Pooling(3, 2)) == "Pooling(3x2, stride=(3, 2), pad=0)"
    assert repr(Affine(W=np.zeros((4, 2), F32), b=np.zeros(2, F32))) == "Affine(4->2)"
    assert repr(Dropout(dropout_ratio=0.3)) == "Dropout(ratio=0.3)"
    assert repr(Relu()) == "Relu()" and repr(SoftmaxWithLoss()) == "SoftmaxWithLoss()"
