"""Models: :class:`Sequential`, the notebook's :class:`LeNet` and the book's :class:`SimpleConvNet`."""

from cnn.models.lenet import LeNet
from cnn.models.sequential import Sequential
from cnn.models.simple_convnet import SimpleConvNet

__all__ = ["Sequential", "LeNet", "SimpleConvNet"]
