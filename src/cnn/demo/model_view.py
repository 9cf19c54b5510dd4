"""What the draw-a-digit page shows of a model: its layers described once, and for one drawing
the prepared input, every layer's output and the probabilities."""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from cnn.datasets import prepare_ink
from cnn.functions import softmax
from cnn.layers import Affine, Convolution, Flatten, Layer, Pooling, Relu, WindowPooling
from cnn.layers.global_pooling import GlobalAveragePooling, GlobalMaxPooling
from cnn.models import Sequential
from cnn_ext.geometry import reach

__all__ = ["INPUT_SHAPE", "MIN_SIDE", "MAX_SIDE", "RequestError", "check_demo_model",
           "check_pixels", "describe_model", "explain"]

#: The sample the page's models take: one grey MNIST digit.
INPUT_SHAPE = (1, 28, 28)
#: The smallest and largest drawing ``pixels`` may hold, per side.
MIN_SIDE, MAX_SIDE = 8, 1024
# Significant digits of the largest value of each array sent to the page (the others keep as
# many decimals): plenty for colours and bars.
DIGITS = 4


class RequestError(ValueError):
    """A request the page's API refuses: ``field`` names what was wrong, ``status`` is the HTTP
    status to answer with (400 unless said)."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status = status


def check_demo_model(model: Any, source: str) -> Sequential:
    """``model`` if it classifies (1, 28, 28) digits into 10 classes; ValueError naming ``source``."""
    if not isinstance(model, Sequential):
        raise TypeError(f"{source}: expected a cnn.models.Sequential, got {type(model).__name__}")
    if model.input_shape != INPUT_SHAPE:
        raise ValueError(f"{source}: the page draws MNIST digits, so the model must take input "
                         f"{INPUT_SHAPE}; this one takes {model.input_shape}")
    classes = model.num_classes()
    if classes != 10:
        raise ValueError(f"{source}: the page shows ten digits, so the model must give 10 "
                         f"scores; this one gives {classes}")
    return model


def check_pixels(payload: Any) -> np.ndarray:
    """The drawing of a ``POST /api/predict`` body, as a float64 (H, W) array of ink in [0, 1].
    ``pixels`` holds H rows of W values, or the H * H values of a square drawing in one flat
    list (784 for 28 x 28), row by row.

    Raises :class:`RequestError` naming the field, what was expected and what came."""
    if not isinstance(payload, dict):
        raise RequestError("body", f'expected a JSON object {{"pixels": [[...], ...]}}, got '
                                   f"{_json_kind(payload)}")
    unknown = sorted(set(payload) - {"pixels"})
    if unknown:
        raise RequestError(unknown[0], 'unknown field; the body holds only "pixels"')
    if "pixels" not in payload:
        raise RequestError("pixels", "missing: expected an H x W array of ink values in [0, 1]")
    rows = payload["pixels"]
    if isinstance(rows, list) and rows and not any(isinstance(row, list) for row in rows):
        side = math.isqrt(len(rows))
        if side * side != len(rows):
            raise RequestError("pixels", f"expected an H x W array (a list of rows), or a flat "
                                         f"list of a square's values, got a flat list of "
                                         f"{len(rows)} values, not a square")
        rows = [rows[start:start + side] for start in range(0, len(rows), side)]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise RequestError("pixels", f"expected a list of rows (lists of numbers), got "
                                     f"{_json_kind(rows)}")
    if not MIN_SIDE <= len(rows) <= MAX_SIDE:
        raise RequestError("pixels", f"expected {MIN_SIDE} to {MAX_SIDE} rows, got {len(rows)}")
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise RequestError("pixels", f"rows must all have one length, got lengths "
                                     f"{sorted(widths)[:5]}")
    width = widths.pop()
    if not MIN_SIDE <= width <= MAX_SIDE:
        raise RequestError("pixels", f"expected {MIN_SIDE} to {MAX_SIDE} columns, got {width}")
    if not all(type(value) in (int, float) for row in rows for value in row):
        raise RequestError("pixels", "expected numbers only (no strings, booleans, null or arrays)")
    pixels = np.array(rows, dtype=np.float64)
    if not np.isfinite(pixels).all():
        raise RequestError("pixels", "expected finite numbers, got NaN or infinity")
    low, high = pixels.min(), pixels.max()
    if low < 0 or high > 1:
        raise RequestError("pixels", f"expected ink values in [0, 1], got values from {low:g} "
                                     f"to {high:g}")
    return pixels


def describe_model(model: Sequential, origin: dict) -> dict:
    """``GET /api/model``: the model's layers (names, output shapes, parameter counts, captions,
    receptive fields), the first convolution's filters and where the weights came from."""
    shapes = model.layer_shapes(INPUT_SHAPE)
    fields = receptive_fields(model.layers, INPUT_SHAPE[1:])
    before = INPUT_SHAPE
    layers = []
    for index, (layer, shape, field) in enumerate(zip(model.layers, shapes, fields)):
        layers.append({"index": index, "name": title(layer), "kind": type(layer).__name__,
                       "shape": list(shape), "parameters": layer.num_params(),
                       "caption": caption(layer, before, shape, index == len(model.layers) - 1),
                       "receptive_field": field})
        before = shape
    first = model.layers[0]
    filters = None
    if isinstance(first, Convolution):
        weights = first.params[0][:, 0]
        filters = {"layer": 0, "name": title(first), "values": _rounded(weights)}
    return {"model": type(model).__name__, "parameters": model.num_params(),
            "input_shape": list(INPUT_SHAPE), "layers": layers, "filters": filters,
            "weights": origin}


def explain(model: Sequential, pixels: np.ndarray) -> dict:
    """``POST /api/predict``: the drawing prepared as MNIST's digits are, every layer's output for
    it, the predicted digit and the ten probabilities."""
    try:
        sample = prepare_ink(pixels)
    except ValueError:
        raise RequestError("pixels", "no ink: every value is 0 (draw a digit first)") from None
    outputs = model.layer_outputs(sample.astype(model.dtype or np.float32, copy=False))
    probabilities = softmax(outputs[-1].astype(np.float64))[0]
    return {"prediction": int(probabilities.argmax()),
            "probabilities": [float(p) for p in probabilities],
            "input": _rounded(sample[0, 0]),
            "layers": [{"name": title(layer), "shape": list(output.shape[1:]),
                        "values": _rounded(output[0])}
                       for layer, output in zip(model.layers, outputs)]}


def receptive_fields(layers: list[Layer], size: tuple[int, int]) -> list[Optional[dict]]:
    """For each layer whose output is a stack of maps, the window of the input each output pixel
    sees: output pixel (i, j) sees rows ``start[0] + i * step[0]`` up to ``size[0]`` rows further
    (columns likewise), clipped to the image. None where it is not a window (after an affine or
    residual layer)."""
    start, step, extent = [0, 0], [1, 1], [1, 1]
    known = True
    fields = []
    for layer in layers:
        if isinstance(layer, (Convolution, WindowPooling)):
            kernel = layer.params[0].shape[2:] if isinstance(layer, Convolution) else \
                (layer.pool_h, layer.pool_w)
            for axis in (0, 1):
                start[axis] -= layer.pads[axis][0] * step[axis]
                extent[axis] += (reach(kernel[axis], layer.dilations[axis]) - 1) * step[axis]
                step[axis] *= layer.strides[axis]
        elif isinstance(layer, (GlobalAveragePooling, GlobalMaxPooling)):
            start, step, extent = [0, 0], [0, 0], list(size)
        elif not layer.per_position:
            known = False
        fields.append({"start": list(start), "step": list(step), "size": list(extent)}
                      if known else None)
    return fields


def title(layer: Layer) -> str:
    """The name the page gives ``layer``: its settings for a layer with weights or a window
    (``Convolution(1->6, 5x5, stride=1, pad=2)``), its class for an activation, whose settings
    (``inplace``) change how it is computed, not what."""
    return type(layer).__name__ if layer.activation else repr(layer)


def caption(layer: Layer, before: tuple, after: tuple, last: bool) -> str:
    """One sentence on what ``layer`` computes, with its numbers."""
    if isinstance(layer, Convolution):
        out_channels, _, height, width = layer.params[0].shape
        return (f"{out_channels} filters of {height}x{width} slide over the {before[0]} "
                f"input map{'s' if before[0] > 1 else ''} (padding {layer.pad}, stride "
                f"{layer.stride}); each map is one filter's response: a weighted sum of the "
                f"window under it, plus a bias. Red is positive, blue negative.")
    if isinstance(layer, Relu):
        return "ReLU sets every negative value to 0: what is left is the evidence for each pattern."
    if isinstance(layer, Pooling):
        return (f"Max pooling keeps the largest value of each {layer.pool_h}x{layer.pool_w} "
                f"window: the maps shrink from {before[-2]}x{before[-1]} to "
                f"{after[-2]}x{after[-1]} and a pattern may move a little and still count.")
    if isinstance(layer, Flatten):
        return (f"The {before[0]} maps of {before[-2]}x{before[-1]} laid out in one row of "
                f"{after[0]} numbers for the affine layers.")
    if isinstance(layer, Affine):
        inputs, units = layer.params[0].shape
        if last:
            return (f"{units} scores, one per digit: each a weighted sum of the {inputs} inputs "
                    f"plus a bias; softmax turns them into the probabilities.")
        return f"{units} units, each a weighted sum of all {inputs} inputs plus a bias."
    return (type(layer).__doc__ or type(layer).__name__).strip().splitlines()[0]


def _rounded(values: np.ndarray) -> list:
    """Nested lists of the values, each to :data:`DIGITS` significant digits."""
    values = np.asarray(values, dtype=np.float64)
    scale = np.max(np.abs(values)) if values.size else 0.0
    if scale == 0 or not math.isfinite(scale):
        return values.tolist()
    decimals = max(0, DIGITS - 1 - int(math.floor(math.log10(scale))))
    return np.round(values, decimals).tolist()


def _json_kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)
