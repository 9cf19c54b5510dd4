"""Models: :class:`Sequential`, the notebook's :class:`LeNet` and the book's :class:`SimpleConvNet`
and :class:`DeepConvNet`."""

from cnn.models.deep_convnet import DeepConvNet
from cnn.models.lenet import LeNet
from cnn.models.sequential import STATE_FORMAT_VERSION, Sequential
from cnn.models.simple_convnet import SimpleConvNet

__all__ = ["Sequential", "LeNet", "SimpleConvNet", "DeepConvNet", "STATE_FORMAT_VERSION"]
