"""Losses: the last step of a model, with a contract of their own.

A layer maps ``forward(x, train) -> out`` and ``backward(dout) -> dx``; a loss
maps class scores and labels to a number, ``forward(scores, t) -> float``, and
``backward() -> dscores`` gives the gradient of that number. A model holds its
layers and, apart, one loss (``Sequential(layers, loss=...)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnn._checks import check_input, check_labels
from cnn.functions import cross_entropy, log_softmax

__all__ = ["Loss", "SoftmaxWithLoss", "class_indices"]


def class_indices(t: Any, n_samples: int, n_classes: int, name: str = "t") -> np.ndarray:
    """Labels as integer class indices (N,): from class indices or one-hot rows (N, n_classes).

    Raises ``ValueError``/``TypeError`` naming the labels (``name``) when their shape, kind or
    range is wrong.

    Example:
        >>> class_indices([[0, 1], [1, 0]], 2, 2)
        array([1, 0])
    """
    return check_labels(t, n_samples, n_classes, name)


class Loss:
    """The loss contract: ``forward(scores, t) -> float`` and ``backward(dout=1.0) -> dscores``.

    ``forward_checked(scores, t)`` is ``forward`` for targets the caller checked already (the
    Trainer checks a data set's labels once per ``fit``); a loss whose check is cheap need not
    override it.
    """

    def forward(self, scores: np.ndarray, t: Any) -> float:
        raise NotImplementedError

    def forward_checked(self, scores: np.ndarray, t: Any) -> float:
        return self.forward(scores, t)

    def backward(self, dout: float = 1.0) -> np.ndarray:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__

    def config(self) -> dict:
        """The settings that rebuild this loss, as JSON values (``{}`` here), as for a layer."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Loss":
        """A loss like the saved one: ``cls(**config)``."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"{self.name}()"


class SoftmaxWithLoss(Loss):
    """Softmax over class scores, then the cross-entropy averaged over the batch.

    Shape: scores (N, K); labels t (N,) integer classes or (N, K) one-hot;
    ``forward`` returns the loss (a float), ``backward`` returns dscores (N, K).

    Example:
        >>> loss = SoftmaxWithLoss()
        >>> round(loss.forward(np.zeros((2, 10)), [3, 7]), 4)  # ln 10: uniform scores
        2.3026
        >>> loss.backward().shape
        (2, 10)
    """

    def __init__(self) -> None:
        self.probabilities = None
        self.indices = None

    def forward(self, scores: np.ndarray, t: Any) -> float:
        check_input(self.name, scores, (2,), "(N, classes)")
        return self.forward_checked(scores, class_indices(t, scores.shape[0], scores.shape[1]))

    def forward_checked(self, scores: np.ndarray, t: np.ndarray) -> float:
        """``forward`` for class indices ``t`` (N,) checked already."""
        self.indices = t
        log_probabilities = log_softmax(scores)
        self.probabilities = np.exp(log_probabilities)
        return cross_entropy(log_probabilities, self.indices)

    def backward(self, dout: float = 1.0) -> np.ndarray:
        if self.probabilities is None:
            raise RuntimeError("SoftmaxWithLoss: backward needs a forward pass first")
        n_samples = self.indices.shape[0]
        dscores = self.probabilities.copy()
        dscores[np.arange(n_samples), self.indices] -= 1
        return dscores * (dout / n_samples)
