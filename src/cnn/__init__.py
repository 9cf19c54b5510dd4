"""cnn: a from-scratch convolutional neural network framework on top of ``cnn_ext``.

>>> import cnn
>>> from cnn.models import LeNet
>>> model = LeNet(seed=0)
>>> model.num_params()
107786
>>> model.save("lenet.npz")
>>> cnn.load_model("lenet.npz").num_params()   # rebuilt from the file alone
107786
"""

from cnn_ext import __version__
from cnn.models.saving import load_model

__all__ = ["__version__", "load_model"]
