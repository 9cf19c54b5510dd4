"""Layers with ``params``/``grads`` lists and ``forward``/``backward``, as in the book.

``SoftmaxWithLoss`` is importable from here too, as in the book, though it is a
:class:`cnn.losses.Loss`, not a layer. :func:`register` lets :func:`cnn.load_model` rebuild a layer class of your own.
"""

from cnn.layers.activations import LeakyRelu, LogSoftmax, PRelu, Relu, Sigmoid, Softmax, Tanh
from cnn.layers.affine import Affine, Flatten
from cnn.layers.base import Layer
from cnn.layers.batchnorm import BatchNormalization
from cnn.layers.conv import Convolution
from cnn.layers.conv_transpose import ConvTranspose
from cnn.layers.dropout import Dropout
from cnn.layers.global_pooling import GlobalAveragePooling, GlobalMaxPooling
from cnn.layers.pooling import AvgPooling, Pooling, WindowPooling
from cnn.layers.registry import register
from cnn.layers.residual import Residual
from cnn.losses import SoftmaxWithLoss

for _library_class in (Convolution, Pooling, AvgPooling, GlobalAveragePooling, GlobalMaxPooling,
                       Flatten, Affine, Relu, LeakyRelu, PRelu, Sigmoid, Tanh, Softmax, LogSoftmax,
                       Dropout, BatchNormalization, Residual, SoftmaxWithLoss, ConvTranspose):
    register(_library_class)
del _library_class

__all__ = [
    "Layer", "Convolution", "Pooling", "AvgPooling", "WindowPooling", "GlobalAveragePooling",
    "GlobalMaxPooling", "Flatten", "Affine", "Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh",
    "Softmax", "LogSoftmax", "Dropout", "BatchNormalization", "Residual", "SoftmaxWithLoss",
    "register", "ConvTranspose",
]
