"""The book's fully connected network with weight decay, dropout and batch normalization."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from cnn.book.common._layered_net import LayeredNet
from cnn.book.common.layers import Affine, BatchNormalization, Dropout, SoftmaxWithLoss
from cnn.book.common.multi_layer_net import check_activation

__all__ = ["MultiLayerNetExtend"]


class MultiLayerNetExtend(LayeredNet):
    """Affine, [batch norm], activation, [dropout], ..., affine, softmax-with-loss.

    Args:
        input_size: features of a sample (784 for flat MNIST images).
        hidden_size_list: units of each hidden layer, for example ``[100, 100, 100]``.
        output_size: classes (10 for MNIST).
        activation: ``'relu'`` or ``'sigmoid'``.
        weight_init_std: the weights' standard deviation, or ``'relu'``/``'he'``,
            ``'sigmoid'``/``'xavier'`` for a scale by fan-in.
        weight_decay_lambda: strength of the L2 penalty on the weights.
        use_dropout: a book :class:`~cnn.book.common.layers.Dropout` after each activation.
        dropout_ration: its ratio (the book's spelling).
        use_batchnorm: a batch normalization after each hidden affine layer, with
            ``params['gamma1']``, ``params['beta1']``, ...
    """

    def __init__(self, input_size, hidden_size_list, output_size, activation='relu',
                 weight_init_std='relu', weight_decay_lambda=0, use_dropout=False,
                 dropout_ration=0.5, use_batchnorm=False):
        activation_layer = check_activation(activation)
        self._sized(input_size, hidden_size_list, output_size, weight_init_std, weight_decay_lambda)
        self.use_dropout, self.use_batchnorm = use_dropout, use_batchnorm
        self.layers = OrderedDict()
        for index, size in enumerate(hidden_size_list, start=1):
            self.layers[f"Affine{index}"] = Affine(self.params[f"W{index}"], self.params[f"b{index}"])
            if use_batchnorm:
                self.params[f"gamma{index}"] = np.ones(size)
                self.params[f"beta{index}"] = np.zeros(size)
                self.layers[f"BatchNorm{index}"] = BatchNormalization(
                    self.params[f"gamma{index}"], self.params[f"beta{index}"])
            self.layers[f"Activation_function{index}"] = activation_layer()
            if use_dropout:
                self.layers[f"Dropout{index}"] = Dropout(dropout_ration)
        last = self.hidden_layer_num + 1
        self.layers[f"Affine{last}"] = Affine(self.params[f"W{last}"], self.params[f"b{last}"])
        self.last_layer = SoftmaxWithLoss()

    @staticmethod
    def _forward(layer, x, train_flg):
        if isinstance(layer, (Dropout, BatchNormalization)):
            return layer.forward(x, train_flg)
        return layer.forward(x)

    def _other_gradients(self, index):
        if not self.use_batchnorm or index == self.hidden_layer_num + 1:
            return {}
        norm = self.layers[f"BatchNorm{index}"]
        return {f"gamma{index}": norm.dgamma, f"beta{index}": norm.dbeta}

    def _trainable(self):
        names = []
        for index in range(1, self.hidden_layer_num + 2):
            names += [f"W{index}", f"b{index}"]
            if self.use_batchnorm and index != self.hidden_layer_num + 1:
                names += [f"gamma{index}", f"beta{index}"]
        return names
