"""cnn.book's optimizers, networks, Trainer and load_mnist: the book's formulas, gradients
and draws from np.random, checked against formulas and loops written here."""

import numpy as np
import pytest

from cnn.book.common import optimizer
from cnn.book.common.multi_layer_net import MultiLayerNet
from cnn.book.common.multi_layer_net_extend import MultiLayerNetExtend
from cnn.book.common.trainer import Trainer
from cnn.book.dataset.mnist import load_mnist
from mnist_files import MNIST_DIR


def two_steps(make, rng):
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    grads = [{key: rng.standard_normal(value.shape) for key, value in params.items()}
             for _ in range(2)]
    start = {key: value.copy() for key, value in params.items()}
    held = params["W"]
    opt = make()
    for step in grads:
        opt.update(params, step)
    assert params["W"] is held  # in place, as the layers hold these arrays
    return start, grads, params


def test_each_optimizer_takes_its_formulas_two_steps(rng):
    lr, momentum, decay, beta1, beta2, eps = 0.1, 0.9, 0.99, 0.9, 0.999, 1e-7
    start, grads, params = two_steps(lambda: optimizer.SGD(lr), rng)
    np.testing.assert_allclose(params["W"], start["W"] - lr * grads[0]["W"] - lr * grads[1]["W"])

    start, grads, params = two_steps(lambda: optimizer.Momentum(lr, momentum), rng)
    v1 = -lr * grads[0]["W"]
    v2 = momentum * v1 - lr * grads[1]["W"]
    np.testing.assert_allclose(params["W"], start["W"] + v1 + v2)

    start, grads, params = two_steps(lambda: optimizer.AdaGrad(lr), rng)
    h1 = grads[0]["W"] ** 2
    h2 = h1 + grads[1]["W"] ** 2
    expected = start["W"] - lr * grads[0]["W"] / (np.sqrt(h1) + eps) - lr * grads[1]["W"] / (np.sqrt(h2) + eps)
    np.testing.assert_allclose(params["W"], expected)

    start, grads, params = two_steps(lambda: optimizer.RMSprop(lr, decay), rng)
    h1 = (1 - decay) * grads[0]["W"] ** 2
    h2 = decay * h1 + (1 - decay) * grads[1]["W"] ** 2
    expected = start["W"] - lr * grads[0]["W"] / (np.sqrt(h1) + eps) - lr * grads[1]["W"] / (np.sqrt(h2) + eps)
    np.testing.assert_allclose(params["W"], expected)

    start, grads, params = two_steps(lambda: optimizer.Adam(lr, beta1, beta2), rng)
    m = v = 0
    expected = start["W"].copy()
    for t, step in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * step["W"]
        v = beta2 * v + (1 - beta2) * step["W"] ** 2
        expected -= lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * m / (np.sqrt(v) + eps)
    np.testing.assert_allclose(params["W"], expected, rtol=1e-12)

    start, grads, params = two_steps(lambda: optimizer.Nesterov(lr, momentum), rng)
    v = np.zeros_like(start["W"])
    expected = start["W"].copy()
    for step in grads:  # the look-ahead form: v' = m v - lr g; W += m v' - lr g ... unrolled
        expected += momentum * momentum * v - (1 + momentum) * lr * step["W"]
        v = momentum * v - lr * step["W"]
    np.testing.assert_allclose(params["W"], expected)


@pytest.mark.parametrize("net", [
    lambda: MultiLayerNet(6, [5, 4], 3, weight_decay_lambda=0.1),
    lambda: MultiLayerNet(6, [5], 3, activation="sigmoid", weight_init_std="xavier"),
    lambda: MultiLayerNetExtend(6, [5, 4], 3, weight_decay_lambda=0.05, use_batchnorm=True),
], ids=["relu-decay", "sigmoid", "batchnorm"])
def test_backpropagation_matches_the_numerical_gradient(rng, net):
    np.random.seed(0)
    network = net()
    for key, value in network.params.items():  # biases off zero: no ReLU input sits on its kink
        if key.startswith("b"):
            value[...] = rng.uniform(0.1, 0.5, value.shape)
    x, t = rng.standard_normal((4, 6)), np.array([0, 2, 1, 2])
    numeric, backprop = network.numerical_gradient(x, t), network.gradient(x, t)
    assert list(numeric) == list(backprop)
    for key in numeric:
        np.testing.assert_allclose(backprop[key], numeric[key], rtol=1e-4, atol=1e-6, err_msg=key)


def test_the_extended_net_orders_its_arrays_and_layers_as_the_book(rng):
    np.random.seed(1)
    network = MultiLayerNetExtend(4, [3, 3], 2, use_batchnorm=True, use_dropout=True)
    assert list(network.params) == ["W1", "b1", "W2", "b2", "W3", "b3", "gamma1", "beta1",
                                    "gamma2", "beta2"]
    assert list(network.layers) == ["Affine1", "BatchNorm1", "Activation_function1", "Dropout1",
                                    "Affine2", "BatchNorm2", "Activation_function2", "Dropout2",
                                    "Affine3"]
    np.random.seed(1)
    np.testing.assert_array_equal(network.params["W1"], np.sqrt(2 / 4) * np.random.randn(4, 3))


def test_an_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="'relu' or 'sigmoid', got 'tanh'"):
        MultiLayerNet(4, [3], 2, activation="tanh")


class CountingNet:
    """A stand-in network that records the batches it is given."""

    def __init__(self):
        self.params, self.batches = {"w": np.zeros(1)}, []

    def gradient(self, x, t):
        self.batches.append(x.copy())
        return {"w": np.ones(1)}

    def loss(self, x, t):
        return float(len(self.batches))

    def accuracy(self, x, t):
        return len(x) / 100


def test_the_trainer_draws_batches_as_the_book_and_prints_its_lines(capsys):
    x, t = np.arange(30.0).reshape(30, 1), np.zeros(30, int)
    network = CountingNet()
    trainer = Trainer(network, x, t, x[:20], t[:20], epochs=2, mini_batch_size=10,
                      optimizer="sgd", optimizer_param={"lr": 0.5},
                      evaluate_sample_num_per_epoch=5)
    np.random.seed(3)
    trainer.train()
    np.random.seed(3)
    drawn = [x[np.random.choice(30, 10)] for _ in range(6)]
    assert len(network.batches) == 6
    for got, want in zip(network.batches, drawn):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(network.params["w"], [-3.0])
    assert trainer.train_loss_list == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert trainer.train_acc_list == [0.05, 0.05] and trainer.test_acc_list == [0.05, 0.05]
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["train loss:1.0", "=== epoch:1, train acc:0.05, test acc:0.05 ==="]
    assert lines[-2:] == ["=============== Final Test Accuracy ===============", "test acc:0.2"]


def test_the_trainer_names_the_optimizers_it_knows():
    with pytest.raises(ValueError, match="SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam"):
        Trainer(CountingNet(), np.zeros((2, 1)), np.zeros(2), np.zeros((2, 1)), np.zeros(2),
                optimizer="lbfgs")


@pytest.mark.parametrize("normalize, flatten, one_hot", [(True, True, False), (False, False, True)])
def test_load_mnist_gives_the_books_shapes_and_dtypes(monkeypatch, normalize, flatten, one_hot):
    monkeypatch.setenv("CNN_EXT_DATA", str(MNIST_DIR))
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize, flatten, one_hot)
    assert x_train.shape == ((60000, 784) if flatten else (60000, 1, 28, 28))
    assert x_test.dtype == (np.float32 if normalize else np.uint8)
    assert (x_train.max() == 1.0) if normalize else (x_train.max() == 255)
    if one_hot:
        assert t_train.shape == (60000, 10) and t_train.dtype == np.float64
        assert t_train[:3].argmax(axis=1).tolist() == [5, 0, 4]
    else:
        assert t_test.dtype == np.uint8 and t_train[:3].tolist() == [5, 0, 4]
