"""cnn: a from-scratch convolutional neural network framework on top of ``cnn_ext``."""

from cnn_ext import __version__

__all__ = ["__version__"]
