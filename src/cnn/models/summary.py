"""A model's summary table: its layers, the shape of one sample after each, and their
parameter counts, with the layers a layer holds indented under it."""

from __future__ import annotations

from cnn.layers.base import Layer

__all__ = ["summary_table", "one_line"]


def summary_table(model) -> str:
    """The table :meth:`cnn.models.Sequential.summary` prints, for a model with an input_shape."""
    rows = [("Layer", "Output shape", "Params")]
    before = model.input_shape
    for layer, shape in zip(model.layers, model.layer_shapes()):
        rows.append((one_line(layer), str((None,) + shape), f"{layer.num_params():,}"))
        rows += [(f"  {name} {one_line(inner)}", str((None,) + inner_shape),
                  f"{inner.num_params():,}")
                 for name, inner, inner_shape in layer.inner_shapes(before)]
        before = shape
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = [f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}" for row in rows]
    rule = "-" * len(lines[0])
    return "\n".join([lines[0], rule, *lines[1:], rule, f"Total params: {model.num_params():,}"])


def one_line(layer: Layer) -> str:
    """The layer's repr, or its class and layer count where the repr spans lines (a model)."""
    text = repr(layer)
    return text if "\n" not in text else f"{layer.name}({len(layer.sublayers())} layers)"
