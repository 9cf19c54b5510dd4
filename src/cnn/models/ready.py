"""The ready models, by the names the main job and the demo take: each one's class, the main
job's training defaults for it, and the trained weights that ship with cnn-ext. One table, read
by ``cnn-train`` (its ``--model`` choices, defaults and help), ``cnn-demo`` and
:func:`cnn.load_model`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from cnn.models.deep_convnet import DeepConvNet
from cnn.models.lenet import LeNet
from cnn.models.resnet import ResNet
from cnn.models.sequential import Sequential
from cnn.models.simple_convnet import SimpleConvNet

__all__ = ["ReadyModel", "READY_MODELS", "ready_class"]


@dataclass(frozen=True)
class ReadyModel:
    """A model built by name.

    Attributes:
        model_class: the :class:`~cnn.models.Sequential` subclass, built as
            ``model_class(seed=..., dtype=...)``.
        epochs, batch_size, adam_lr, augment: the main job's defaults for it, chosen by
            measurement (the guide "From LeNet to the book's deep network"): epochs, samples
            per step, Adam's initial learning rate (decayed along a cosine), and whether
            training images are shifted at random by up to 2 pixels.
        weights: the file of trained weights in ``cnn/demo/weights`` that ships with cnn-ext
            (None: none ships).
    """

    model_class: type
    epochs: int
    batch_size: int
    adam_lr: float
    augment: bool
    weights: Optional[str] = None


#: The ready models by their ``--model`` names.
READY_MODELS = {
    "lenet": ReadyModel(LeNet, epochs=12, batch_size=32, adam_lr=0.002, augment=False,
                        weights="lenet.npz"),
    "simpleconvnet": ReadyModel(SimpleConvNet, epochs=10, batch_size=100, adam_lr=0.001,
                                augment=False),
    "deepconvnet": ReadyModel(DeepConvNet, epochs=20, batch_size=100, adam_lr=0.001, augment=True),
    "resnet": ReadyModel(ResNet, epochs=6, batch_size=100, adam_lr=0.002, augment=False),
}


def ready_class(class_name: str) -> type:
    """The ready model class a saved file names (``"LeNet"``), or :class:`Sequential` for any
    other name."""
    return next((ready.model_class for ready in READY_MODELS.values()
                 if ready.model_class.__name__ == class_name), Sequential)
