"""A page where you draw a digit and watch every layer of a CNN answer: ``cnn-demo``.

:func:`main` runs the command; :class:`DemoServer` serves the page and its API for any model of
MNIST digits; :mod:`cnn.demo.model_view` computes what the page shows. The guide "Watch LeNet
think" (docs/guides/demo.md) describes the page and the API.
"""

from cnn.demo.cli import load_demo_model, main
from cnn.demo.server import DemoServer

__all__ = ["main", "load_demo_model", "DemoServer"]
