"""Models: :class:`Sequential`, the notebook's :class:`LeNet` and the book's :class:`SimpleConvNet`
and :class:`DeepConvNet`, and a small :class:`ResNet`; :func:`load_model` reads any of them back from a file."""

from cnn.models.deep_convnet import DeepConvNet
from cnn.models.lenet import LeNet
from cnn.models.resnet import ResNet
from cnn.models.sequential import STATE_FORMAT_VERSION, Sequential
from cnn.models.simple_convnet import SimpleConvNet
from cnn.models.saving import load_model
from cnn.layers.registry import register

# A model is a layer too: registered, it can be a block of a Residual saved and loaded again.
for _model_class in (Sequential, LeNet, SimpleConvNet, DeepConvNet, ResNet):
    register(_model_class)
del _model_class

__all__ = ["Sequential", "LeNet", "SimpleConvNet", "DeepConvNet", "ResNet", "STATE_FORMAT_VERSION", "load_model"]
