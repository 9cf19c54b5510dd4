"""What the converters share: the rank of the data flowing between layers."""

from __future__ import annotations

from cnn.layers import Affine


def input_rank(model) -> int:
    """4 for images (N, C, H, W), 2 for vectors (N, D): what the model's first layer takes."""
    if model.input_shape is not None:
        return 1 + len(model.input_shape)
    return 2 if isinstance(model.layers[0], Affine) else 4


def rank_after(layer, rank: int) -> int:
    """The rank of a layer's output for an input of ``rank``: a layer that ``flattens`` (Flatten,
    Affine, global pooling) gives vectors."""
    return 2 if layer.flattens else rank
