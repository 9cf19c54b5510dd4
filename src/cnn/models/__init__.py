"""Models: :class:`Sequential` and the notebook's :class:`LeNet`."""

from cnn.models.lenet import LeNet
from cnn.models.sequential import Sequential

__all__ = ["Sequential", "LeNet"]
