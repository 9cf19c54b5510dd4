"""Checking a Trainer checkpoint before anything of it is used: its arrays from their headers
(before their data is read), then every field of its record of the run."""

from __future__ import annotations

import json
import math
from typing import Any, Callable, Mapping

import numpy as np

__all__ = ["check_checkpoint_arrays", "checked_record", "entries", "MAX_RECORD_BYTES"]

#: The longest record of a run a checkpoint may hold (a history grows by ~200 bytes an epoch).
MAX_RECORD_BYTES = 64 << 20


def entries(arrays: Mapping[str, Any], prefix: str) -> dict:
    """The entries under ``prefix``, with the prefix taken off their names."""
    return {key[len(prefix):]: value for key, value in arrays.items() if key.startswith(prefix)}


def check_checkpoint_arrays(specs: Mapping[str, Any], source: str, n_samples: int, model,
                            optimizer) -> None:
    """Refuse a checkpoint whose arrays (``specs``: their headers) do not fit ``model``,
    ``optimizer`` and a data set of ``n_samples``: model.*, optimizer.*, best.* (the best epoch's
    weights, kept for ``keep_best``), meta and order only."""
    if "meta" not in specs:
        raise ValueError(f"{source} is not a training checkpoint (no 'meta' entry)")
    for key, spec in specs.items():
        if key.startswith(("model.", "optimizer.", "best.")):
            continue
        if key == "meta" and spec.shape == () and spec.dtype.kind == "U" \
                and spec.dtype.itemsize <= MAX_RECORD_BYTES:
            continue
        if key == "order" and spec.shape == (n_samples,) and spec.dtype.kind in "iu":
            continue
        raise ValueError(f"{source}: the entry {key!r} (shape {spec.shape}, dtype {spec.dtype}) "
                         f"is not part of a checkpoint for {n_samples} samples")
    model.check_state(entries(specs, "model."), source)
    best = entries(specs, "best.")
    if best:
        model.check_state(best, f"{source} (its best epoch's weights)")
    optimizer.check_state(entries(specs, "optimizer."), model.named_params(), source)


# The fields of a record and their kinds; "augment" and "augment_rng" came with cnn-ext 0.2.
FIELDS = {"epoch": int, "step": int, "correct": int, "seen": int, "n_samples": int,
          "batch_size": int, "seed": int, "loss_sum": float, "seconds": float, "lr": float,
          "history": list, "layer_rngs": list, "rng": dict}


def checked_record(text: np.ndarray, source: str, expected: Mapping[str, Any], layer_rngs: int,
                   generator: Callable[[], np.random.Generator],
                   augment_generator: Callable[[], np.random.Generator]) -> dict:
    """The record of the run (the checkpoint's 'meta' JSON) with every field checked.

    ``expected``: the settings that must be the same (n_samples, batch_size, seed, augment,
    validation, keep_best, early_stopping);
    ``layer_rngs``: how many layer generators the model has; ``generator`` and
    ``augment_generator`` make the shuffling's and the augmentation's generators, which the
    saved states are loaded into (``record["rng"]``, ``record["augment_rng"]``).
    """
    try:
        record = json.loads(str(text))
    except (ValueError, RecursionError) as error:
        raise ValueError(f"{source}: its 'meta' entry is not JSON ({error})") from None
    if not isinstance(record, dict):
        raise ValueError(f"{source}: its 'meta' entry is not a record of the run")
    for key, kind in FIELDS.items():
        value = record.get(key)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = record[key] = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) or \
                (kind in (int, float) and not (math.isfinite(value) and value >= 0)):
            raise ValueError(f"{source}: its 'meta' entry has {key}={_short(value)}, not a "
                             f"non-negative {kind.__name__}")
    record.setdefault("augment", None)  # checkpoints of cnn-ext 0.1 had no augmentation
    for key, default in (("validation", None), ("keep_best", False), ("early_stopping", None)):
        record.setdefault(key, default)  # nor a validation set
    for key, value in expected.items():
        if record[key] != value:
            raise ValueError(f"{source} was written with {key}={record[key]}, this run has "
                             f"{key}={value}; resume with the same settings")
    if not all(_is_epoch(epoch) for epoch in record["history"]):
        raise ValueError(f"{source}: its 'meta' entry holds a damaged history")
    n_samples, batch_size = expected["n_samples"], expected["batch_size"]
    if record["step"] >= math.ceil(n_samples / batch_size) or record["seen"] > n_samples \
            or record["correct"] > record["seen"] or len(record["history"]) != record["epoch"] \
            or record["lr"] <= 0 or len(record["layer_rngs"]) != layer_rngs:
        raise ValueError(f"{source}: its 'meta' entry does not describe a run of this model "
                         f"over {n_samples} samples in batches of {batch_size}")
    try:
        rng, augment_rng = generator(), augment_generator()
        rng.bit_generator.state = record["rng"]
        if "augment_rng" in record:
            augment_rng.bit_generator.state = record["augment_rng"]
        for state in record["layer_rngs"]:
            np.random.default_rng().bit_generator.state = state
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"{source}: its 'meta' entry holds a damaged generator state "
                         f"({error!r})") from None
    record["rng"], record["augment_rng"] = rng, augment_rng
    return record


def _is_epoch(record) -> bool:
    """Whether ``record`` is an epoch's entry of a history (see ``Trainer.fit``)."""
    def number(value):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(record, dict) and all(number(record.get(key)) for key in
                                            ("epoch", "lr", "train_loss", "train_acc", "seconds")) \
        and all(record.get(key) is None or number(record[key])
                for key in ("test_loss", "test_acc", "val_loss", "val_acc"))


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
