"""A Trainer checkpoint: writing one, and reading one back with everything checked before any
of it is used: its arrays from their headers (before their data is read), then every field of
its record of the run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from cnn.formats import upgraded_run_record
from cnn.run_state import RunSettings, RunState
from cnn.storage import atomic_write_npz, read_npz

__all__ = ["save_checkpoint", "load_checkpoint", "check_checkpoint_arrays", "checked_record",
           "entries", "MAX_RECORD_BYTES"]

#: The longest record of a run a checkpoint may hold (a history grows by ~200 bytes an epoch).
MAX_RECORD_BYTES = 64 << 20


def entries(arrays: Mapping[str, Any], prefix: str) -> dict:
    """The entries under ``prefix``, with the prefix taken off their names."""
    return {key[len(prefix):]: value for key, value in arrays.items() if key.startswith(prefix)}


def save_checkpoint(path: Path, model, optimizer, state: RunState, settings: RunSettings,
                    history: list, layers_with_rng: Sequence) -> None:
    """Write the whole run atomically to ``path``: the model's and the optimizer's state, the
    best epoch's weights, the epoch's sample order, and (as JSON in ``meta``) the run's
    position, settings, history, learning rate and generator states."""
    meta = {**state.counters(), **settings.record(), "rng": state.rng.bit_generator.state,
            "history": history, "lr": optimizer.lr,
            "layer_rngs": [layer.rng.bit_generator.state for layer in layers_with_rng],
            "augment_rng": state.augment_rng.bit_generator.state}
    arrays = {f"model.{key}": value for key, value in model.state_dict().items()}
    arrays.update({f"optimizer.{key}": value for key, value in optimizer.state_dict().items()})
    arrays["meta"] = np.array(json.dumps(meta))
    if state.best is not None:
        arrays.update({f"best.{key}": value for key, value in state.best.items()})
    if state.order is not None:
        arrays["order"] = state.order
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_npz(path, arrays)


def load_checkpoint(path: Path, model, optimizer, settings: RunSettings,
                    layers_with_rng: Sequence) -> tuple[RunState, list]:
    """The run saved in ``path``, checked against this run's ``settings``, model and optimizer
    before anything is used: ``(state, history)``. The model's and the optimizer's arrays, the
    learning rate and the layers' generators are restored in place."""
    source = f"checkpoint {str(path)!r}"
    n_samples = settings.n_samples
    arrays = read_npz(path, check=lambda specs: check_checkpoint_arrays(
        specs, source, n_samples, model, optimizer))
    meta = checked_record(arrays["meta"], source, settings, len(layers_with_rng))
    model.load_state_dict(entries(arrays, "model."), source=source)
    optimizer.load_state_dict(entries(arrays, "optimizer."), names=list(model.named_params()))
    optimizer.lr = meta["lr"]
    for layer, rng_state in zip(layers_with_rng, meta["layer_rngs"]):
        layer.rng.bit_generator.state = rng_state
    best = entries(arrays, "best.")
    state = RunState(**{key: meta[key] for key in RunState.COUNTERS}, rng=meta["rng"],
                     augment_rng=meta["augment_rng"], order=arrays.get("order"),
                     best=best if settings.keep_best and best else None)
    if state.order is not None and not np.array_equal(np.sort(state.order), np.arange(n_samples)):
        raise ValueError(f"{source}: its 'order' is not an order of the {n_samples} samples")
    return state, meta["history"]


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


# The fields every record has, and their kinds (the settings later versions added are filled in
# by cnn.models.formats).
FIELDS = {"epoch": int, "step": int, "correct": int, "seen": int, "n_samples": int,
          "batch_size": int, "seed": int, "loss_sum": float, "seconds": float, "lr": float,
          "history": list, "layer_rngs": list, "rng": dict}


def checked_record(text: np.ndarray, source: str, settings: RunSettings, layer_rngs: int) -> dict:
    """The record of the run (the checkpoint's 'meta' JSON) with every field checked.

    ``settings``: this run's, which the record's must equal field by field; ``layer_rngs``: how
    many layer generators the model has. The saved generator states come back as generators
    (``record["rng"]``, ``record["augment_rng"]``).
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
    upgraded_run_record(record)
    differing = settings.differences(record)
    if differing:
        key, recorded, value = differing[0]
        raise ValueError(f"{source} was written with {key}={recorded}, this run has "
                         f"{key}={value}; resume with the same settings")
    if not all(_is_epoch(epoch) for epoch in record["history"]):
        raise ValueError(f"{source}: its 'meta' entry holds a damaged history")
    n_samples, batch_size = settings.n_samples, settings.batch_size
    if record["step"] >= math.ceil(n_samples / batch_size) or record["seen"] > n_samples \
            or record["correct"] > record["seen"] or len(record["history"]) != record["epoch"] \
            or record["lr"] <= 0 or len(record["layer_rngs"]) != layer_rngs:
        raise ValueError(f"{source}: its 'meta' entry does not describe a run of this model "
                         f"over {n_samples} samples in batches of {batch_size}")
    try:
        fresh = RunState.fresh(n_samples, settings.seed)
        rng, augment_rng = fresh.rng, fresh.augment_rng
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
