"""The book's SimpleConvNet: one convolution, one pooling, two affine layers."""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

from cnn.layers import Affine, Convolution, Flatten, Pooling, Relu
from cnn.losses import SoftmaxWithLoss
from cnn.models.book_params import BookParams, copy_book_params, read_book_params
from cnn.models.by_size import check_image_model_arguments, flat_features
from cnn.models.sequential import Sequential


class SimpleConvNet(Sequential):
    """conv ``filters``@``filter_size`` (stride 1, pad 0), relu, maxpool 2, flatten,
    affine ``hidden``, relu, affine ``num_classes``, softmax-with-loss: the SimpleConvNet of
    *Deep Learning from Scratch* (chapter 7), with He initialisation.

    On (1, 28, 28) MNIST images with the defaults (30 filters of 5x5, 100 hidden units) it has
    433,890 parameters.

    Args:
        num_classes: number of output classes.
        input_shape: (channels, height, width) of one image.
        filters: the convolution's output channels.
        filter_size: the convolution's window size.
        hidden: units of the hidden affine layer.
        seed: an int or a ``numpy.random.Generator`` for the weights.
        dtype: float32 (default) or float64.

    Example:
        >>> SimpleConvNet(seed=0).num_params()
        433890
    """

    def __init__(self, num_classes: int = 10, input_shape: tuple[int, int, int] = (1, 28, 28),
                 filters: int = 30, filter_size: int = 5, hidden: int = 100,
                 seed: Optional[Union[int, np.random.Generator]] = None, dtype=np.float32) -> None:
        num_classes, (channels, height, width), dtype = check_image_model_arguments(
            num_classes, input_shape, dtype)
        rng = np.random.default_rng(seed)
        layers = [
            Convolution.create(channels, filters, filter_size, rng=rng, dtype=dtype), Relu(inplace=True),
            Pooling(2, 2, stride=2),
            Flatten(),
        ]
        layers += [
            Affine.create(flat_features(layers, input_shape), hidden, rng=rng, dtype=dtype), Relu(inplace=True),
            Affine.create(hidden, num_classes, rng=rng, dtype=dtype),
        ]
        super().__init__(layers, SoftmaxWithLoss(), input_shape=(channels, height, width))

    @classmethod
    def from_book_params(cls, params: BookParams, dtype=np.float32) -> "SimpleConvNet":
        """The book's trained SimpleConvNet as a cnn-ext model that predicts as the book's does.

        Args:
            params: the book network's ``params`` dict (``W1``, ``b1`` of the convolution,
                ``W2``, ``b2``, ``W3``, ``b3`` of the affine layers), or the path of the
                ``params.pkl`` its ``save_params`` wrote (read by :func:`cnn.book.load_params`).
            dtype: float32 (default: cnn-ext's fast kernels) or float64.

        The sizes come from the arrays: filters and their size from ``W1``, the hidden units
        from ``W2``, the classes from ``W3``; the images are square, of the side whose pooled
        convolution gives ``W2``'s rows.

        Example:
            >>> model = SimpleConvNet.from_book_params("params.pkl")  # doctest: +SKIP
        """
        params = read_book_params(params)
        shapes = [np.shape(params.get(key, ())) for key in ("W1", "W2", "W3")]
        if [len(shape) for shape in shapes] != [4, 2, 2]:
            raise ValueError(f"params must hold the book's SimpleConvNet weights: W1 (filters, "
                             f"channels, size, size), W2 (features, hidden), W3 (hidden, "
                             f"classes), got shapes {shapes}")
        (filters, channels, filter_size, _), (features, hidden), (_, classes) = shapes
        pooled_side = int(round(np.sqrt(features / filters)))
        side = 2 * pooled_side + filter_size - 1
        model = cls(num_classes=classes, input_shape=(channels, side, side), filters=filters,
                    filter_size=filter_size, hidden=hidden, seed=0, dtype=dtype)
        copy_book_params(model, params, "SimpleConvNet")
        return model
