"""The main job's ``--out`` folder: the record of the settings a run there was made with
(``run.json``), and what an earlier run there means for this one: report it, resume it, train
it on to more epochs, or refuse."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Optional

from cnn.formats import upgraded_job_record
from cnn.run_state import SettingsRecord
from cnn.storage import read_json
from cnn.validation import stops_early

__all__ = ["JobSettings", "check_earlier_run"]


@dataclass(frozen=True)
class JobSettings(SettingsRecord):
    """The flags that decide a run's result: ``run.json``'s schema, compared field by field with
    an earlier run's in the same ``--out``."""

    model: str
    epochs: int
    batch_size: int
    optimizer: str
    lr: float
    augment: bool
    train_size: Optional[int]
    seed: int
    dtype: str
    validation: Optional[float]
    keep_best: bool
    early_stopping: Optional[int]

    @classmethod
    def of(cls, args, lr: float) -> "JobSettings":
        """The settings of the parsed flags ``args``, with the learning rate ``lr`` resolved."""
        return cls(lr=lr, **{item.name: getattr(args, item.name) for item in fields(cls)
                             if item.name != "lr"})


def check_earlier_run(args: argparse.Namespace, settings: JobSettings) -> bool:
    """Whether ``--out`` holds a finished run of these settings, to be reported, not trained.

    False when there is nothing there (refused with ``--resume``, which would resume nothing),
    or when the run there is to be continued: an interrupted one with ``--resume``, or a
    finished one trained on to a larger ``--epochs`` with ``--resume``. A run of any other
    setting is refused, naming the flags that differ."""
    out = Path(args.out)
    checkpoint = out / "checkpoint.npz"
    if not checkpoint.exists():
        if args.resume:
            raise ValueError(f"--resume: {out} holds no checkpoint.npz, so there is no run to "
                             f"resume (is --out right?); leave out --resume to start a new run "
                             f"there")
        return False
    run_file = out / "run.json"
    advice = (f"it records the earlier run in {out}: choose another --out, or delete that "
              f"folder to start afresh")
    # A run of an older version has no run.json: the Trainer still checks what its checkpoint holds.
    saved = read_json(run_file, advice) if run_file.exists() else settings.record()
    if not isinstance(saved, dict):
        raise ValueError(f"{run_file} is damaged (not a record of settings); {advice}")
    differences = settings.differences(upgraded_job_record(saved))
    differing = [f"--{key.replace('_', '-')} {recorded} there, {value} here"
                 for key, recorded, value in differences if key != "epochs"]
    if differing:
        raise ValueError(f"{out} holds a run with other settings ({'; '.join(differing)}): "
                         f"repeat its flags, or choose another --out for a new run")
    history_file = out / "history.json"
    history = read_json(history_file, advice) if history_file.exists() else []
    if not isinstance(history, list):
        raise ValueError(f"{history_file} is damaged (not a list of epochs); {advice}")
    if differences:  # only --epochs can differ here
        _check_extension(args, out, saved.get("epochs"), history)
        return False
    finished = len(history) == args.epochs or stops_early(history, args.early_stopping)
    if finished and (out / "weights.npz").exists():
        return True
    if not args.resume:
        raise ValueError(f"{checkpoint} holds an unfinished run: pass --resume to continue it, "
                         f"or choose another --out")
    return False


def _check_extension(args: argparse.Namespace, out: Path, recorded: object, history: list) -> None:
    """Refuse to train the run in ``out`` (of ``recorded`` epochs, ``history`` done) on to
    ``args.epochs`` unless that adds epochs and ``--resume`` asks for it."""
    done = len(history)
    if args.epochs <= done:
        raise ValueError(f"{out} holds a run of --epochs {recorded} with {done} epochs trained; "
                         f"--epochs {args.epochs} would train none: give --epochs {recorded} to "
                         f"report it, or more than {done} with --resume to train it further")
    if stops_early(history, args.early_stopping):
        raise ValueError(f"{out} holds a run that stopped early after epoch {done} "
                         f"(--early-stopping {args.early_stopping}); more --epochs would train "
                         f"none: choose another --out for a new run")
    if not args.resume:
        raise ValueError(f"{out} holds a run of --epochs {recorded} ({done} trained): add "
                         f"--resume to train it on to --epochs {args.epochs}, or choose another "
                         f"--out for a new run")
