"""Layers with ``params``/``grads`` lists and ``forward``/``backward``, as in the book."""

from cnn.layers.activations import Relu, Sigmoid, Tanh
from cnn.layers.affine import Affine, Flatten
from cnn.layers.base import Layer
from cnn.layers.batchnorm import BatchNormalization
from cnn.layers.conv import Convolution
from cnn.layers.dropout import Dropout
from cnn.layers.loss import SoftmaxWithLoss
from cnn.layers.pooling import AvgPooling, Pooling

__all__ = [
    "Layer", "Convolution", "Pooling", "AvgPooling", "Flatten", "Affine", "Relu", "Sigmoid",
    "Tanh", "Dropout", "BatchNormalization", "SoftmaxWithLoss",
]
