"""What the book's two fully connected networks share: weights made by size, the forward
pass through an ordered dict of layers, the loss with weight decay, the accuracy, and the
gradients by backpropagation or by central differences."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from cnn.book.common.gradient import numerical_gradient
from cnn.book.common.layers import SoftmaxWithLoss

#: The names ``weight_init_std`` takes for a scale of ``sqrt(gain / fan_in)``.
SCALED_INITS = {"relu": 2.0, "he": 2.0, "sigmoid": 1.0, "xavier": 1.0}


def initial_params(sizes, weight_init_std):
    """``{'W1', 'b1', ...}`` for affine layers between consecutive ``sizes``: weights from
    ``np.random.randn`` times the scale (a number, or He's or Xavier's by name), zero biases."""
    params = {}
    for index in range(1, len(sizes)):
        scale = weight_init_std
        gain = SCALED_INITS.get(str(weight_init_std).lower())
        if gain is not None:
            scale = np.sqrt(gain / sizes[index - 1])
        params[f"W{index}"] = scale * np.random.randn(sizes[index - 1], sizes[index])
        params[f"b{index}"] = np.zeros(sizes[index])
    return params


class LayeredNet:
    """A network of ``self.layers`` (an OrderedDict) ending in softmax-with-loss, whose
    affine layers are named ``Affine1`` ... and whose weights are ``params['W1']`` ...

    Subclasses build ``params``, ``layers``, ``hidden_layer_num`` and ``weight_decay_lambda``,
    and say by :meth:`_trainable` which arrays have gradients."""

    last_layer: SoftmaxWithLoss
    layers: "OrderedDict"

    def _sized(self, input_size, hidden_size_list, output_size, weight_init_std,
               weight_decay_lambda):
        """Keep the sizes and the decay, and draw ``params`` (see :func:`initial_params`)."""
        self.input_size, self.output_size = input_size, output_size
        self.hidden_size_list = hidden_size_list
        self.hidden_layer_num = len(hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.params = initial_params([input_size, *hidden_size_list, output_size], weight_init_std)

    def predict(self, x, train_flg=False):
        for layer in self.layers.values():
            x = self._forward(layer, x, train_flg)
        return x

    @staticmethod
    def _forward(layer, x, train_flg):
        return layer.forward(x)

    def loss(self, x, t, train_flg=False):
        """The cross-entropy error plus ``0.5 * weight_decay_lambda * sum(W**2)`` of each W."""
        y = self.predict(x, train_flg)
        weight_decay = 0
        for index in range(1, self.hidden_layer_num + 2):
            weight_decay += 0.5 * self.weight_decay_lambda * np.sum(self.params[f"W{index}"] ** 2)
        return self.last_layer.forward(y, t) + weight_decay

    def accuracy(self, x, t):
        """The fraction of samples whose highest score is their label (index or one-hot)."""
        y = np.argmax(self.predict(x, train_flg=False), axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return np.sum(y == t) / float(x.shape[0])

    def numerical_gradient(self, x, t):
        """The gradients by central differences: slow, for checking :meth:`gradient`."""
        loss = lambda _: self.loss(x, t, train_flg=True)  # noqa: E731 (the book's form)
        return {key: numerical_gradient(loss, self.params[key]) for key in self._trainable()}

    def gradient(self, x, t):
        """The gradients of :meth:`loss` by backpropagation, by parameter name."""
        self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        grads = {}
        for index in range(1, self.hidden_layer_num + 2):
            affine = self.layers[f"Affine{index}"]
            grads[f"W{index}"] = affine.dW + self.weight_decay_lambda * self.params[f"W{index}"]
            grads[f"b{index}"] = affine.db
            grads.update(self._other_gradients(index))
        return grads

    def _other_gradients(self, index):
        """Gradients of arrays other than the affine layers' that belong to layer ``index``."""
        return {}

    def _trainable(self):
        """The names of the parameters that have gradients, in the book's order."""
        return [f"{name}{index}" for index in range(1, self.hidden_layer_num + 2)
                for name in ("W", "b")]
