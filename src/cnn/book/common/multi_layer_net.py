"""The book's fully connected network: affine layers with ReLU or sigmoid between them."""

from __future__ import annotations

from collections import OrderedDict

from cnn.book.common._layered_net import LayeredNet
from cnn.book.common.layers import Affine, Relu, Sigmoid, SoftmaxWithLoss

__all__ = ["MultiLayerNet"]

ACTIVATIONS = {"relu": Relu, "sigmoid": Sigmoid}


def check_activation(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be 'relu' or 'sigmoid', got {activation!r}")
    return ACTIVATIONS[activation]


class MultiLayerNet(LayeredNet):
    """Affine, activation, ..., affine, softmax-with-loss.

    Args:
        input_size: features of a sample (784 for flat MNIST images).
        hidden_size_list: units of each hidden layer, for example ``[100, 100, 100]``.
        output_size: classes (10 for MNIST).
        activation: ``'relu'`` or ``'sigmoid'``.
        weight_init_std: the weights' standard deviation (for example 0.01), or ``'relu'``/
            ``'he'`` for He's scale, ``'sigmoid'``/``'xavier'`` for Xavier's.
        weight_decay_lambda: strength of the L2 penalty on the weights.

    ``params['W1']``, ``params['b1']``, ... are the arrays the layers compute with."""

    def __init__(self, input_size, hidden_size_list, output_size, activation='relu',
                 weight_init_std='relu', weight_decay_lambda=0):
        activation_layer = check_activation(activation)
        self._sized(input_size, hidden_size_list, output_size, weight_init_std, weight_decay_lambda)
        self.layers = OrderedDict()
        for index in range(1, self.hidden_layer_num + 1):
            self.layers[f"Affine{index}"] = Affine(self.params[f"W{index}"], self.params[f"b{index}"])
            self.layers[f"Activation_function{index}"] = activation_layer()
        last = self.hidden_layer_num + 1
        self.layers[f"Affine{last}"] = Affine(self.params[f"W{last}"], self.params[f"b{last}"])
        self.last_layer = SoftmaxWithLoss()
