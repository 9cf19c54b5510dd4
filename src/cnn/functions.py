"""Softmax and cross-entropy, computed stably through the log-sum-exp."""

from __future__ import annotations

import numpy as np

__all__ = ["log_softmax", "softmax", "cross_entropy"]


def log_softmax(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """Log-softmax of scores along ``axis`` (the last: rows of (N, K), or (K,)); subtracting
    the maximum avoids overflow."""
    shifted = scores - scores.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax of scores along ``axis`` (the last: rows of (N, K), or (K,))."""
    return np.exp(log_softmax(scores, axis))


def cross_entropy(log_probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of integer ``labels`` (N,) under ``log_probabilities`` (N, K)."""
    picked = log_probabilities[np.arange(labels.shape[0]), labels]
    return float(-picked.mean())
