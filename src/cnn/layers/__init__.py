"""Layers with ``params``/``grads`` lists and ``forward``/``backward``, as in the book.

``SoftmaxWithLoss`` is importable from here too, as in the book, though it is a
:class:`cnn.losses.Loss`, not a layer.
"""

from cnn.layers.activations import Relu, Sigmoid, Tanh
from cnn.layers.affine import Affine, Flatten
from cnn.layers.base import Layer
from cnn.layers.batchnorm import BatchNormalization
from cnn.layers.conv import Convolution
from cnn.layers.dropout import Dropout
from cnn.layers.pooling import AvgPooling, Pooling, WindowPooling
from cnn.losses import SoftmaxWithLoss

__all__ = [
    "Layer", "Convolution", "Pooling", "AvgPooling", "WindowPooling", "Flatten", "Affine", "Relu", "Sigmoid",
    "Tanh", "Dropout", "BatchNormalization", "SoftmaxWithLoss",
]
