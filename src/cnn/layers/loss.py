"""Softmax followed by the cross-entropy loss."""

from __future__ import annotations

import numpy as np

from cnn._checks import check_input, check_labels
from cnn.functions import cross_entropy, log_softmax
from cnn.layers.base import Layer


class SoftmaxWithLoss(Layer):
    """Softmax over class scores, then the cross-entropy averaged over the batch.

    Shape: scores x (N, K); labels t (N,) integer classes or (N, K) one-hot;
    ``forward`` returns the loss (a float), ``backward`` returns dx (N, K).
    """

    def __init__(self) -> None:
        super().__init__()
        self.probabilities = None
        self.labels = None

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        check_input(self.name, x, (2,), "(N, classes)")
        self.labels = check_labels(t, x.shape[0], x.shape[1])
        log_probabilities = log_softmax(x)
        self.probabilities = np.exp(log_probabilities)
        return cross_entropy(log_probabilities, self.labels)

    def backward(self, dout: float = 1.0) -> np.ndarray:
        n_samples = self.labels.shape[0]
        dx = self.probabilities.copy()
        dx[np.arange(n_samples), self.labels] -= 1
        return dx * (dout / n_samples)
