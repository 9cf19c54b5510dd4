"""Optimizers: progress on a convex function, and the first steps computed by hand."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from cnn.optim import OPTIMIZERS, SGD, Adam, Momentum, make_optimizer

# f(p) = 0.5 * sum(scale * p**2): convex, minimum 0 at p = 0, gradient scale * p.
SCALE = np.array([1.0, 4.0, 0.5])
SETTINGS = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.5, "rmsprop": 0.05,
            "adam": 0.1}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_decreases_a_convex_function(name):
    param = np.array([1.0, -2.0, 3.0])
    optimizer = make_optimizer(name, lr=SETTINGS[name])
    start = 0.5 * np.sum(SCALE * param ** 2)
    grad = np.zeros(3)
    for _ in range(100):
        grad[...] = SCALE * param
        optimizer.update([param], [grad])
    assert 0.5 * np.sum(SCALE * param ** 2) < 0.05 * start


def test_momentum_first_two_steps_by_hand():
    param, grad = np.array([1.0]), np.array([0.5])
    optimizer = Momentum(lr=0.1, momentum=0.9)
    optimizer.update([param], [grad])  # v = -0.05, p = 0.95
    assert_allclose(param, [0.95])
    grad[...] = 0.25
    optimizer.update([param], [grad])  # v = 0.9 * -0.05 - 0.025 = -0.07, p = 0.88
    assert_allclose(param, [0.88])


def test_adam_first_two_steps_by_hand():
    param, grad = np.array([1.0]), np.array([0.5])
    optimizer = Adam(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    optimizer.update([param], [grad])
    # m = 0.05, v = 0.00025; bias-corrected 0.5 and 0.25: step 0.1 * 0.5 / (0.5 + 1e-8)
    first_value = 1 - 0.1 * 0.5 / (0.5 + 1e-8)
    assert_allclose(param, [first_value], rtol=1e-12)
    grad[...] = -1.0
    optimizer.update([param], [grad])
    m = 0.9 * 0.05 + 0.1 * -1.0           # -0.055
    v = 0.999 * 0.00025 + 0.001 * 1.0     # 0.00124975
    m_hat, v_hat = m / (1 - 0.9 ** 2), v / (1 - 0.999 ** 2)
    assert_allclose(param, [first_value - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8)], rtol=1e-12)


def test_weight_decay_adds_to_the_gradient():
    param, grad = np.array([2.0]), np.array([0.0])
    SGD(lr=0.1, weight_decay=0.5).update([param], [grad])
    assert_allclose(param, [2.0 - 0.1 * 0.5 * 2.0])


def test_float32_parameters_stay_float32():
    for name in OPTIMIZERS:
        param, grad = np.ones(4, np.float32), np.full(4, 0.3, np.float32)
        optimizer = make_optimizer(name, lr=0.01)
        optimizer.update([param], [grad])
        optimizer.update([param], [grad])
        assert param.dtype == np.float32
        assert all(s.dtype == np.float32 for values in optimizer.state.values() for s in values.values())


def test_state_dict_round_trip_continues_identically():
    params = [np.array([1.0, 2.0])]
    grads = [np.array([0.3, -0.1])]
    original = Adam(lr=0.01)
    original.update(params, grads)
    copy = Adam(lr=0.01)
    copy.load_state_dict(original.state_dict())
    twin = [params[0].copy()]
    original.update(params, grads)
    copy.update(twin, grads)
    assert_allclose(twin[0], params[0], rtol=0, atol=0)


GRADIENTS = [0.5, -1.0, 0.25, 2.0]  # one scalar parameter, four steps


def reference_trajectory(name, lr, start=1.0):
    """The parameter after each step, from the update rules written out with Python floats."""
    param, values = start, []
    velocity = squares = mean_square = first = second = 0.0
    for step, grad in enumerate(GRADIENTS, start=1):
        if name == "sgd":
            param -= lr * grad
        elif name in ("momentum", "nesterov"):
            velocity = 0.9 * velocity - lr * grad
            param += 0.9 * velocity - lr * grad if name == "nesterov" else velocity
        elif name == "adagrad":
            squares += grad ** 2
            param -= lr * grad / (squares ** 0.5 + 1e-7)
        elif name == "rmsprop":
            mean_square = 0.99 * mean_square + 0.01 * grad ** 2
            param -= lr * grad / (mean_square ** 0.5 + 1e-7)
        elif name == "adam":
            first = 0.9 * first + 0.1 * grad
            second = 0.999 * second + 0.001 * grad ** 2
            param -= lr * (first / (1 - 0.9 ** step)) / ((second / (1 - 0.999 ** step)) ** 0.5 + 1e-8)
        values.append(param)
    return values


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_follows_its_update_rule_step_by_step(name):
    param, grad = np.array([1.0]), np.array([0.0])
    optimizer = make_optimizer(name, lr=0.1)
    trajectory = []
    for value in GRADIENTS:
        grad[...] = value
        optimizer.update([param], [grad])
        trajectory.append(param[0])
    assert_allclose(trajectory, reference_trajectory(name, 0.1), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_state_saved_before_the_first_step_restores_and_updates(name):
    fresh = make_optimizer(name, lr=0.1)
    restored = make_optimizer(name, lr=0.1)
    restored.load_state_dict(fresh.state_dict())  # IndexError at the next update before the fix
    params, twin = [np.array([1.0, 2.0])], [np.array([1.0, 2.0])]
    grads = [np.array([0.5, -0.5])]
    fresh.update(params, grads)
    restored.update(twin, grads)
    assert_allclose(twin[0], params[0], rtol=0, atol=0)


def test_a_state_of_other_params_is_refused():
    optimizer = Adam(lr=0.1)
    optimizer.update([np.ones(3)], [np.ones(3)])
    with pytest.raises(ValueError, match=r"'first_moment' holds \['0'\], which does not match the params given, \['0', '1'\]"):
        optimizer.update([np.ones(3), np.ones(2)], [np.ones(3), np.ones(2)])


# The first two steps of each optimizer on one parameter, worked out by hand from the update
# rules in the docstrings (lr 0.1, the defaults otherwise): p0 = [1, -2], then the gradients
# g1 = [0.5, -1] and g2 = [0.25, 0.5]. A rule applied in another order (a Nesterov without its
# look-ahead is plain momentum: p1 = [0.95, -1.9]) gives other numbers.
FIRST_STEPS = {
    # v1 = -0.1 g1 = [-0.05, 0.1]; p1 = p0 + 0.9 v1 - 0.1 g1 = [0.905, -1.81]
    # v2 = 0.9 v1 - 0.1 g2 = [-0.07, 0.04]; p2 = p1 + 0.9 v2 - 0.1 g2 = [0.817, -1.824]
    "nesterov": ([0.905, -1.81], [0.817, -1.824]),
    # h1 = g1^2 = [0.25, 1]: p1 = p0 - 0.1 g1 / sqrt(h1) = [0.9, -1.9]
    # h2 = [0.3125, 1.25]: p2 = p1 - 0.1 [0.25 / 0.559017, 0.5 / 1.118034] = p1 - 0.0447214
    "adagrad": ([0.9, -1.9], [0.8552786, -1.9447214]),
    # h1 = 0.01 g1^2 = [0.0025, 0.01]: p1 = p0 - 0.1 [0.5 / 0.05, -1 / 0.1] = [0, -1]
    # h2 = 0.99 h1 + 0.01 g2^2 = [0.0031, 0.0124]: p2 = p1 - 0.1 [4.490133, 4.490133]
    "rmsprop": ([0.0, -1.0], [-0.4490133, -1.4490133]),
}


@pytest.mark.parametrize("name", sorted(FIRST_STEPS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_the_first_steps_are_those_worked_out_by_hand(name, dtype):
    optimizer = OPTIMIZERS[name](lr=0.1)
    param = np.array([1.0, -2.0], dtype)
    for gradient, expected in zip(([0.5, -1.0], [0.25, 0.5]), FIRST_STEPS[name]):
        optimizer.update({"p": param}, {"p": np.array(gradient, dtype)})
        np.testing.assert_allclose(param, expected, rtol=0, atol=1e-5)
        assert param.dtype == dtype
