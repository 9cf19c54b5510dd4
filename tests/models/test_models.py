"""Sequential and LeNet: size, summary, dtype flow, gradients, learning, save and load."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from cnn.gradcheck import check_gradients
from cnn.layers import Affine, Relu
from cnn.models import LeNet, Sequential
from cnn.optim import Adam
from mnist_files import first_training_images


def test_lenet_has_the_notebooks_parameter_count():
    assert LeNet(seed=0).num_params() == 107_786
    assert sum(p.size for p in LeNet(seed=0).params) == 107_786


def test_lenet_summary_shows_the_keras_shapes(capsys):
    assert LeNet(seed=0).summary() is None  # printed, not returned: a REPL shows it once
    text = capsys.readouterr().out
    collected = []
    LeNet(seed=0).summary(print_fn=collected.append)
    assert collected == [text.rstrip("\n")]
    shapes = ["(None, 6, 28, 28)", "(None, 6, 14, 14)", "(None, 16, 14, 14)", "(None, 16, 7, 7)",
              "(None, 784)", "(None, 120)", "(None, 84)", "(None, 10)"]
    positions = [text.index(shape) for shape in shapes]
    assert positions == sorted(positions)
    assert "Total params: 107,786" in text


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_lenet_dtype_flows_through_every_layer(dtype):
    model = LeNet(seed=0, dtype=dtype)
    x = np.random.default_rng(0).random((3, 1, 28, 28)).astype(dtype)
    for layer in model.layers:
        x = layer.forward(x, train=True)
        assert x.dtype == dtype, f"{layer!r} returned {x.dtype}"
    model.forward(np.ones((2, 1, 28, 28), dtype), np.array([1, 2]))
    dx = model.backward()
    assert dx.dtype == dtype
    assert all(grad.dtype == dtype for grad in model.grads)


def test_lenet_is_reproducible_from_its_seed():
    first, second, other = LeNet(seed=5), LeNet(seed=5), LeNet(seed=6)
    assert all(np.array_equal(a, b) for a, b in zip(first.params, second.params))
    assert not np.array_equal(first.params[0], other.params[0])


def test_lenet_gradients_match_finite_differences():
    model = LeNet(seed=1, dtype=np.float64)
    x = np.random.default_rng(2).random((2, 1, 28, 28))
    errors = check_gradients(model, x, np.array([3, 7]), entries_per_array=40)
    assert len(errors) == 11  # 5 weight matrices, 5 bias vectors and the input
    for name, error in errors.items():
        assert error < 1e-6, f"{name}: {error:.2e}"


def test_backward_writes_the_grads_the_optimizer_reads():
    model = LeNet(seed=0)
    grads_before = [id(grad) for grad in model.grads]
    x, t = first_training_images(8)
    model.forward(x, t)
    model.backward()
    assert [id(grad) for grad in model.grads] == grads_before
    assert all(np.any(grad != 0) for grad in model.grads)
    params_before = [param.copy() for param in model.params]
    Adam(lr=1e-3).update(model.params, model.grads)
    assert all(not np.array_equal(a, b) for a, b in zip(params_before, model.params))


def test_lenet_learns_on_a_few_hundred_mnist_images():
    x, t = first_training_images(300)
    model = LeNet(seed=0)
    optimizer = Adam(lr=1e-3)
    rng = np.random.default_rng(0)
    initial_loss = model.forward(x, t, train=False)
    assert 2.0 < initial_loss < 2.8  # about ln(10) = 2.30 before training
    for _ in range(8):
        order = rng.permutation(300)
        for start in range(0, 300, 30):
            batch = order[start:start + 30]
            model.forward(x[batch], t[batch])
            model.backward()
            optimizer.update(model.params, model.grads)
    final_loss = model.forward(x, t, train=False)
    assert final_loss < 0.5, f"training loss only went from {initial_loss:.3f} to {final_loss:.3f}"
    assert model.accuracy(x, t, batch_size=64) > 0.9


def test_accuracy_is_computed_in_batches_and_accepts_one_hot():
    model = LeNet(seed=0)
    x, t = first_training_images(50)
    whole = np.mean(model.predict(x).argmax(axis=1) == t)
    assert model.accuracy(x, t, batch_size=7) == pytest.approx(whole)
    assert model.accuracy(x, np.eye(10)[t], batch_size=50) == pytest.approx(whole)


def test_save_and_load_reproduce_predictions_exactly(tmp_path):
    x, _ = first_training_images(20)
    trained = LeNet(seed=0)
    trained.params[0] += 0.5  # anything but the fresh initialisation
    trained.save(tmp_path / "weights.npz")
    restored = LeNet(seed=99)
    params_before = [id(param) for param in restored.params]
    restored.load(tmp_path / "weights.npz")
    assert [id(param) for param in restored.params] == params_before
    assert_array_equal(restored.predict(x), trained.predict(x))


def test_load_refuses_another_architecture(tmp_path):
    LeNet(seed=0, num_classes=5).save(tmp_path / "five.npz")
    with pytest.raises(ValueError, match=r"'layers.11.W' has shape \(84, 5\)"):
        LeNet(seed=0).load(tmp_path / "five.npz")
    LeNet(seed=0, dtype=np.float64).save(tmp_path / "float64.npz")
    with pytest.raises(ValueError, match="float64"):
        LeNet(seed=0).load(tmp_path / "float64.npz")
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ValueError, match="not a saved cnn model"):
        LeNet(seed=0).load(tmp_path / "other.npz")


def test_load_refuses_a_truncated_file(tmp_path):
    LeNet(seed=0).save(tmp_path / "weights.npz")
    data = (tmp_path / "weights.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.npz"):
        LeNet(seed=0).load(tmp_path / "cut.npz")


def test_sequential_collects_params_of_every_layer():
    rng = np.random.default_rng(0)
    first = Affine(rng.standard_normal((4, 3)), np.zeros(3))
    second = Affine(rng.standard_normal((3, 2)), np.zeros(2))
    model = Sequential([first, Relu(), second])
    assert model.params == first.params + second.params
    assert model.grads == first.grads + second.grads


def test_backward_without_input_gradient_fills_the_same_grads():
    model = LeNet(seed=3)
    x, t = first_training_images(16)
    model.forward(x, t)
    dx = model.backward()
    full = [grad.copy() for grad in model.grads]
    model.forward(x, t)
    assert model.backward(input_grad=False) is None
    assert dx.shape == x.shape
    for expected, grad in zip(full, model.grads):
        np.testing.assert_array_equal(grad, expected)
