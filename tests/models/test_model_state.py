"""Named model state, the loss contract, train_step, summary without side effects, models by size."""

import json

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from cnn.layers import (Affine, BatchNormalization, Convolution, Dropout, Flatten, Layer, Pooling, Relu,
                        SoftmaxWithLoss)
from cnn.losses import Loss
from cnn.models import LeNet, Sequential, SimpleConvNet
from cnn.optim import Adam
from cnn.storage import atomic_write_npz
from mnist_files import first_training_images


def small_network(momentum=0.9, ratio=0.5, seed=0):
    """conv, batch norm (buffers), relu, dropout, pool, flatten, affine."""
    return Sequential([
        Convolution.create(1, 4, 3, pad=1, rng=seed), BatchNormalization(np.ones(4, np.float32),
                                                                         np.zeros(4, np.float32),
                                                                         momentum=momentum),
        Relu(), Dropout(ratio, seed=seed), Pooling(2, 2), Flatten(), Affine.create(4 * 14 * 14, 10, rng=seed),
    ], input_shape=(1, 28, 28))


def test_lenet_state_is_named_by_layer_and_parameter():
    state = LeNet(seed=0).state_dict()
    assert list(state) == ["format_version", "layers.0.W", "layers.0.b", "layers.3.W", "layers.3.b",
                           "layers.7.W", "layers.7.b", "layers.9.W", "layers.9.b", "layers.11.W",
                           "layers.11.b"]
    assert state["layers.0.W"].shape == (6, 1, 5, 5)


def test_buffers_are_saved_by_name_and_settings_never_block_a_load(tmp_path):
    x, t = first_training_images(16)
    trained = small_network(momentum=0.9, ratio=0.5)
    for _ in range(3):
        trained.train_step(x, t)  # moves the running statistics
    assert not np.all(trained.layers[1].buffers[0] == 0)
    state = trained.state_dict()
    assert {"layers.1.running_mean", "layers.1.running_var", "layers.1.gamma"} <= set(state)
    trained.save(tmp_path / "net.npz")
    other = small_network(momentum=0.8, ratio=0.3, seed=5)  # other settings, other weights
    other.load(tmp_path / "net.npz")
    for name, array in trained.state_dict().items():
        assert_array_equal(other.state_dict()[name], array, err_msg=name)
    assert_array_equal(other.predict(x), trained.predict(x))


def test_a_mismatched_state_names_the_first_key_that_differs():
    model = LeNet(seed=0)
    state = model.state_dict()
    missing = {key: value for key, value in state.items() if key != "layers.3.b"}
    with pytest.raises(ValueError, match=r"no 'layers.3.b'"):
        model.load_state_dict(missing)
    extra = dict(state, **{"layers.5.W": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match=r"'layers.5.W', which the model lacks"):
        model.load_state_dict(extra)
    wrong_dtype = dict(state, **{"layers.0.b": state["layers.0.b"].astype(np.float64)})
    with pytest.raises(ValueError, match=r"'layers.0.b' has shape \(6,\) and dtype float64"):
        model.load_state_dict(wrong_dtype)
    with pytest.raises(ValueError, match="state format 7"):
        model.load_state_dict(dict(state, format_version=np.array(7)))
    before = [param.copy() for param in model.params]
    with pytest.raises(ValueError):
        model.load_state_dict(dict(missing, **{"layers.0.W": np.ones((6, 1, 5, 5), np.float32)}))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.params))  # nothing copied


def test_files_of_version_0_1_0_still_load(tmp_path):
    source = small_network(seed=3)
    old = {"architecture": np.array(json.dumps([{"layer": repr(layer)} for layer in source.layers]))}
    old.update({f"param_{i}": param for i, param in enumerate(source.params)})
    old.update({f"buffer_{i}": buffer + i for i, buffer in enumerate(source.buffers)})
    atomic_write_npz(tmp_path / "old.npz", old)
    restored = small_network(seed=4, momentum=0.5)
    restored.load(tmp_path / "old.npz")
    for saved, param in zip(source.params, restored.params):
        assert_array_equal(param, saved)
    assert_array_equal(restored.layers[1].buffers[1], source.buffers[1] + 1)
    del old["param_3"]
    atomic_write_npz(tmp_path / "short.npz", old)
    with pytest.raises(ValueError, match="0.1.0 file.*holds 5 params, this model has 6"):
        restored.load(tmp_path / "short.npz")


def test_summary_leaves_a_pending_backward_alone():
    model = LeNet(seed=0)
    x, t = first_training_images(4)
    model.forward(x, t)
    model.summary(print_fn=lambda text: None)
    model.backward()  # failed with a shape error when summary overwrote the caches
    reference = LeNet(seed=0)
    reference.forward(x, t)
    reference.backward()
    for grad, expected in zip(model.grads, reference.grads):
        assert_array_equal(grad, expected)


def test_losses_have_their_own_contract():
    assert not isinstance(SoftmaxWithLoss(), Layer)
    assert isinstance(SoftmaxWithLoss(), Loss)
    with pytest.raises(TypeError, match=r"layers\[1\] is a loss .*loss=SoftmaxWithLoss\(\)"):
        Sequential([Affine.create(3, 2, rng=0), SoftmaxWithLoss()])
    with pytest.raises(TypeError, match="loss must be a cnn.losses.Loss.*put it among the layers"):
        Sequential([Affine.create(3, 2, rng=0)], loss=Relu())
    with pytest.raises(RuntimeError, match="forward pass first"):
        SoftmaxWithLoss().backward()


def test_train_step_is_the_forward_and_backward_of_a_training_step():
    x, t = first_training_images(8)
    model, reference = LeNet(seed=2), LeNet(seed=2)
    loss, scores = model.train_step(x, t.tolist())  # any array-like labels
    expected_loss = reference.forward(x, t)
    reference.backward(input_grad=False)
    assert loss == pytest.approx(expected_loss, rel=1e-6)
    assert scores.shape == (8, 10)
    for grad, expected in zip(model.grads, reference.grads):
        np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6)


def test_simple_convnet_is_built_by_size_and_learns():
    model = SimpleConvNet(seed=0)
    assert [repr(layer) for layer in model.layers][:3] == [
        "Convolution(1->30, 5x5, stride=1, pad=0)", "Relu(inplace=True)",
        "Pooling(2x2, stride=2, pad=0)"]
    assert model.num_params() == 30 * 25 + 30 + 4320 * 100 + 100 + 100 * 10 + 10
    x, t = first_training_images(200)
    optimizer = Adam(lr=1e-3)
    first_loss = model.forward(x, t, train=False)
    for _ in range(5):
        for start in range(0, 200, 20):
            model.train_step(x[start:start + 20], t[start:start + 20])
            optimizer.update(model.params, model.grads)
    assert model.forward(x, t, train=False) < first_loss / 3
    with pytest.raises(ValueError, match="input_shape .* too small"):
        SimpleConvNet(input_shape=(1, 4, 4))


def test_create_draws_he_weights_from_the_given_generator():
    first = Convolution.create(3, 8, (3, 5), stride=2, pad=1, rng=np.random.default_rng(7))
    again = Convolution.create(3, 8, (3, 5), stride=2, pad=1, rng=7)
    assert first.params[0].shape == (8, 3, 3, 5) and first.stride == 2 and first.pad == 1
    assert_array_equal(first.params[0], again.params[0])
    assert_array_equal(first.params[1], 0)
    wide = Affine.create(20000, 10, rng=0, dtype=np.float64).params[0]
    assert wide.dtype == np.float64
    assert wide.std() == pytest.approx(np.sqrt(2 / 20000), rel=0.02)
    glorot = Affine.create(20000, 10, init="glorot", rng=0).params[0]
    assert glorot.std() == pytest.approx(np.sqrt(2 / 20010), rel=0.02)
    with pytest.raises(ValueError, match="init must be one of .*'kaiming'"):
        Affine.create(3, 2, init="kaiming")
