"""The book's optimizers. Each ``update(params, grads)`` changes the arrays of the dict
``params`` in place, so that layers holding the same arrays see the new values."""

from __future__ import annotations

import numpy as np

#: ``np`` too: the book's programs use it after ``from common.optimizer import *`` alone.
__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "np"]

#: Added to a square root in a denominator, so that a zero history divides safely.
EPSILON = 1e-7


def _zeros_like_each(params):
    return {key: np.zeros_like(value) for key, value in params.items()}


class SGD:
    """Stochastic gradient descent: ``param -= lr * grad``."""

    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params:
            params[key] -= self.lr * grads[key]


class Momentum:
    """SGD with momentum: ``v = momentum*v - lr*grad; param += v``."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum = lr, momentum
        self.v = None

    def _velocity(self, params):
        if self.v is None:
            self.v = _zeros_like_each(params)
        return self.v

    def update(self, params, grads):
        v = self._velocity(params)
        for key in params:
            v[key] = self.momentum * v[key] - self.lr * grads[key]
            params[key] += v[key]


class Nesterov(Momentum):
    """Nesterov's accelerated gradient, in the form that updates the parameters directly."""

    def update(self, params, grads):
        v = self._velocity(params)
        for key in params:
            params[key] += self.momentum * self.momentum * v[key]
            params[key] -= (1 + self.momentum) * self.lr * grads[key]
            v[key] *= self.momentum
            v[key] -= self.lr * grads[key]


class AdaGrad:
    """AdaGrad: each entry's step shrinks with the sum of its squared gradients ``h``."""

    def __init__(self, lr=0.01):
        self.lr = lr
        self.h = None

    def _history(self, params):
        if self.h is None:
            self.h = _zeros_like_each(params)
        return self.h

    def update(self, params, grads):
        h = self._history(params)
        for key in params:
            h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(h[key]) + EPSILON)


class RMSprop(AdaGrad):
    """RMSprop: like AdaGrad, with a history ``h`` that decays by ``decay_rate`` each step."""

    def __init__(self, lr=0.01, decay_rate=0.99):
        super().__init__(lr)
        self.decay_rate = decay_rate

    def update(self, params, grads):
        h = self._history(params)
        for key in params:
            h[key] *= self.decay_rate
            h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(h[key]) + EPSILON)


class Adam:
    """Adam, with the bias corrections folded into the step size of each iteration."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0
        self.m = self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m, self.v = _zeros_like_each(params), _zeros_like_each(params)
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)
        for key in params:
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + EPSILON)
