"""cnn: a from-scratch convolutional neural network framework on top of ``cnn_ext``.

>>> from cnn.models import LeNet
>>> model = LeNet(seed=0)
>>> model.num_params()
107786
"""

from cnn_ext import __version__

__all__ = ["__version__"]
