"""The book's DeepConvNet: six 3x3 convolutions, three poolings, two affine layers with dropout."""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

from cnn.layers import Affine, Convolution, Dropout, Flatten, Pooling, Relu
from cnn.losses import SoftmaxWithLoss
from cnn.models.book_params import BookParams, copy_book_params, read_book_params
from cnn.models.by_size import check_image_model_arguments, flat_features
from cnn.models.sequential import Sequential

#: The convolutions of DeepConvNet as (output channels, pad), a 2x2 max pooling after each pair.
CONVOLUTIONS = ((16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1))
#: The book's dropout ratio. Its Dropout scales by ``1 - ratio`` at test time where cnn-ext's
#: scales by ``1 / (1 - ratio)`` in training: book weights are rescaled to match.
BOOK_DROPOUT = 0.5


class DeepConvNet(Sequential):
    """The DeepConvNet of *Deep Learning from Scratch* (chapter 8), layer for layer:

    conv 3x3 16 (pad 1), relu, conv 3x3 16 (pad 1), relu, maxpool 2,
    conv 3x3 32 (pad 1), relu, conv 3x3 32 (pad 2), relu, maxpool 2,
    conv 3x3 64 (pad 1), relu, conv 3x3 64 (pad 1), relu, maxpool 2,
    affine 50, relu, dropout 0.5, affine ``num_classes``, dropout 0.5, softmax-with-loss.

    On (1, 28, 28) MNIST images the 28x28 maps become 14x14, then 8x8 (the pad of 2 grows
    14 to 16), then 4x4, so the first affine layer takes 64 * 4 * 4 = 1024 features, and
    the network has 123,552 parameters. The weights use He initialisation, as in the book.

    Where it differs from the book: a ``Flatten`` stands before the first affine layer (the
    book's Affine reshapes its input itself; so does ours, but the explicit layer keeps the
    model's parts visible in ``summary()`` and in ONNX); the dropout masks come from
    generators seeded by ``seed``, so a run can be repeated. The book's design puts the last
    dropout after the last affine layer: in training mode it zeroes half of the scores, so
    the accuracy of training batches reads low (about 0.5); :class:`~cnn.trainer.Trainer`
    reports the training accuracy in inference mode for that reason.

    Args:
        num_classes: number of output classes.
        input_shape: (channels, height, width) of one image; at least 17x17 for three poolings.
        seed: an int or a ``numpy.random.Generator`` for the weights and the dropout masks.
        dtype: float32 (default) or float64.

    Shape: x ``(N, *input_shape)`` -> scores (N, num_classes).

    Example:
        >>> model = DeepConvNet(seed=0)
        >>> model.num_params()
        123552
        >>> model.predict(np.zeros((2, 1, 28, 28), np.float32)).shape
        (2, 10)
    """

    def __init__(self, num_classes: int = 10, input_shape: tuple[int, int, int] = (1, 28, 28),
                 seed: Optional[Union[int, np.random.Generator]] = None, dtype=np.float32) -> None:
        num_classes, (channels, height, width), dtype = check_image_model_arguments(
            num_classes, input_shape, dtype)
        rng = np.random.default_rng(seed)
        layers, in_channels = [], channels
        for index, (out_channels, pad) in enumerate(CONVOLUTIONS):
            layers += [Convolution.create(in_channels, out_channels, 3, pad=pad, rng=rng,
                                          dtype=dtype), Relu(inplace=True)]
            if index % 2 == 1:
                layers.append(Pooling(2, 2, stride=2))
            in_channels = out_channels
        layers.append(Flatten())
        layers += [
            Affine.create(flat_features(layers, input_shape), 50, rng=rng, dtype=dtype),
            Relu(inplace=True),
            Dropout(0.5, seed=int(rng.integers(2 ** 63 - 1))),
            Affine.create(50, num_classes, rng=rng, dtype=dtype),
            Dropout(0.5, seed=int(rng.integers(2 ** 63 - 1))),
        ]
        super().__init__(layers, SoftmaxWithLoss(), input_shape=(channels, height, width))

    @classmethod
    def from_book_params(cls, params: BookParams, dtype=np.float32) -> "DeepConvNet":
        """The book's trained DeepConvNet as a cnn-ext model that predicts as the book's does.

        Args:
            params: the book network's ``params`` dict (``W1`` ... ``W8``, ``b1`` ... ``b8``),
                or the path of the ``deep_convnet_params.pkl`` its ``save_params`` wrote
                (read by :func:`cnn.book.load_params`, which runs no code from the file).
            dtype: float32 (default: cnn-ext's fast kernels) or float64.

        The book's Dropout multiplies by 0.5 at test time, after the first affine layer's ReLU
        and after the last affine layer; cnn-ext's passes values unchanged at test time. So
        ``W8`` is scaled by 0.25 and ``b8`` by 0.5, and the scores equal the book's.

        Example:
            >>> model = DeepConvNet.from_book_params("deep_convnet_params.pkl")  # doctest: +SKIP
        """
        params = read_book_params(params)
        first, last = np.shape(params.get("W1", ())), np.shape(params.get("W8", ()))
        if len(first) != 4 or len(last) != 2:
            raise ValueError(f"params must hold the book's DeepConvNet weights: W1 of shape "
                             f"(16, channels, 3, 3) and W8 of shape (50, classes), got W1 "
                             f"{first} and W8 {last}")
        model = cls(num_classes=last[1], input_shape=(first[1], 28, 28), seed=0, dtype=dtype)
        keep = 1.0 - BOOK_DROPOUT
        rescaled = {**params, "W8": np.asarray(params["W8"]) * keep * keep,
                    "b8": np.asarray(params["b8"]) * keep}
        copy_book_params(model, rescaled, "DeepConvNet")
        return model
