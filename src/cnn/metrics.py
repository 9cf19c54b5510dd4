"""Classification metrics on integer labels."""

from __future__ import annotations

import numpy as np

__all__ = ["confusion_matrix", "accuracy", "correct_predictions"]


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts (num_classes, num_classes): row = true class, column = predicted class."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape or labels.ndim != 1:
        raise ValueError(f"labels and predictions must be 1-D of the same length, got shapes "
                         f"{labels.shape} and {predictions.shape}")
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}), got values from "
                             f"{values.min()} to {values.max()}")
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    return counts


def correct_predictions(scores: np.ndarray, labels: np.ndarray) -> int:
    """How many samples have their highest score at their label: scores (N, classes), labels (N,)."""
    return int(np.count_nonzero(np.asarray(scores).argmax(axis=1) == np.asarray(labels)))


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """The fraction of samples whose highest score is their label (the project's one formula).

    Example:
        >>> accuracy(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), np.array([1, 0, 0]))
        0.6666666666666666
    """
    scores, labels = np.asarray(scores), np.asarray(labels)
    if scores.ndim != 2 or scores.shape[0] == 0 or labels.shape != scores.shape[:1]:
        raise ValueError(f"accuracy needs scores (N, classes) and labels (N,) with N > 0, got "
                         f"shapes {scores.shape} and {labels.shape}")
    return correct_predictions(scores, labels) / labels.shape[0]
