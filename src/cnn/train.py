"""Train a CNN on MNIST and report the test accuracy: the project's main job.

    cnn-train                                   # the notebook's LeNet, its defaults below
    cnn-train --model deepconvnet               # the book's DeepConvNet, with augmentation
    cnn-train --model resnet                    # a small ResNet: residual blocks, batch norm
    cnn-train --train-size 500 --epochs 20      # the notebook's experiment
    python -m cnn.train ...                     # the same
    python examples/train_lenet.py ...          # the same, reading the repository's data/mnist
    mpiexec -n 2 cnn-train --distributed ...    # the same, data-parallel on two ranks (MPI)

Each model has its own defaults, chosen by measurement (see cnn.models.ready.READY_MODELS and
the guide "From LeNet to the book's deep network"); any flag overrides them.

Without --data-dir, MNIST is read from $CNN_EXT_DATA, else from the user cache, and whatever
is missing is downloaded there (with a progress bar, each file checked against its SHA-256).
With --data-dir, that folder is read and the network is never used.

Writes into --out: run.json (the settings), history.json, weights.npz, checkpoint.npz
(for --resume) and, with matplotlib installed (pip install "cnn-ext[plot]"), curves.png,
filters.png, confusion.png and misclassified.png. The last line printed is
"test accuracy: 0.XXXX". Run again with the same settings, it reports the finished run
instead of training again; --resume continues an interrupted one; a run with other settings
in the same --out is refused, naming them.

With --distributed, under mpiexec (pip install "cnn-ext[mpi]"), every rank trains its share of
each global batch of --batch-size and rank 0 alone prints and writes: the same weights as one
process up to float rounding (see the guide "Training on several processes").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from cnn import plots
from cnn.functions import softmax
from cnn.datasets import load_mnist
from cnn.formats import upgraded_job_record
from cnn.metrics import accuracy
from cnn.augment import RandomShift
from cnn.models.ready import READY_MODELS
from cnn.optim import OPTIMIZERS, make_optimizer
from cnn.run_state import SettingsRecord
from cnn.schedules import cosine
from cnn.storage import atomic_write_text, read_json
from cnn.trainer import Trainer, TrainingInterrupted
from cnn.validation import split_indices, stops_early

__all__ = ["main", "parse_args", "run"]

DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.01, "rmsprop": 0.001,
              "adam": 0.002}
AUGMENTATION = RandomShift(2)


def _per_model(setting: str) -> str:
    """Each ready model's default ``setting``, for the help: ``lenet 12, simpleconvnet 10, ...``."""
    def shown(value):
        return ("on" if value else "off") if isinstance(value, bool) else f"{value:g}"
    return ", ".join(f"{name} {shown(getattr(ready, setting))}" for name, ready in READY_MODELS.items())


def parse_args(argv=None) -> argparse.Namespace:
    """The job's flags from ``argv`` (default ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(description="Train a CNN on MNIST with cnn-ext.")
    parser.add_argument("--model", choices=sorted(READY_MODELS), default="lenet",
                        help="the network (default lenet, the study notebook's)")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"number of epochs (default: {_per_model('epochs')})")
    parser.add_argument("--batch-size", type=int, default=None,
                        help=f"samples per step (default: {_per_model('batch_size')})")
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                        help=f"shift each training image by up to 2 pixels at random (default: "
                             f"{_per_model('augment')})")
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam",
                        help="optimizer (default adam)")
    parser.add_argument("--lr", type=float, default=None,
                        help=f"initial learning rate, decayed along a cosine to 0 (default: "
                             f"adam {_per_model('adam_lr')}; "
                             + ", ".join(f"{name} {lr:g}" for name, lr in DEFAULT_LR.items()
                                         if name != "adam") + ")")
    parser.add_argument("--train-size", type=int, default=None,
                        help="train on the first N training images (default: all 60000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and shuffling")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="directory of the four MNIST files, read without any download "
                             "(default: $CNN_EXT_DATA, else the user cache, downloading what is "
                             "missing; examples/train_lenet.py reads the repository's data/mnist)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default runs/MODEL, for example runs/lenet)")
    parser.add_argument("--validation", type=float, default=None, metavar="FRACTION",
                        help="hold out this fraction of the training images (drawn from --seed) "
                             "and report the accuracy on them after each epoch (default: none)")
    parser.add_argument("--keep-best", action="store_true",
                        help="end with the weights of the epoch of best validation accuracy "
                             "(needs --validation)")
    parser.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE",
                        help="stop when the validation accuracy has not improved for PATIENCE "
                             "epochs (needs --validation)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the interrupted run in --out (same flags as that run)")
    parser.add_argument("--distributed", action="store_true",
                        help="train data-parallel on the ranks of an MPI job: launch with "
                             "mpiexec -n N cnn-train --distributed ... (needs the mpi extra)")
    args = parser.parse_args(argv)
    ready = READY_MODELS[args.model]
    for name in ("epochs", "batch_size", "augment"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(ready, name))
    if args.out is None:
        args.out = Path("runs") / args.model
    return args


def load_data(args, world=None):
    """The training and test sets of the flags; with a world, rank 0 reads (and downloads)
    first, then the other ranks read."""
    if world is not None and not world.is_root:
        world.broadcast(None)  # wait for rank 0, whose download fills the cache
    data = _load_data(args)
    if world is not None and world.is_root:
        world.broadcast(None)
    return data


def _load_data(args):
    data_dir = args.data_dir
    if data_dir is not None and not data_dir.is_dir():
        raise FileNotFoundError(f"--data-dir: the directory {str(data_dir)!r} does not exist")
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=False, root=data_dir,
                                                      download=data_dir is None)
    if args.train_size is not None:
        if not 1 <= args.train_size <= len(x_train):
            raise ValueError(f"--train-size must be between 1 and {len(x_train)}, got {args.train_size}")
        x_train, t_train = x_train[:args.train_size], t_train[:args.train_size]
    dtype = np.dtype(args.dtype)
    return x_train.astype(dtype, copy=False), t_train, x_test.astype(dtype, copy=False), t_test


def write_figures(model, history, x_test, t_test, scores, out: Path, initial_filters) -> None:
    """The four figures of a run, from the test set's ``scores``; skipped, saying why, without
    matplotlib."""
    predictions = scores.argmax(axis=1)
    try:
        plots.plot_history(history, out / "curves.png")
        plots.plot_filters(model.params[0], out / "filters.png", before=initial_filters)
        plots.plot_confusion_matrix(t_test, predictions, 10, out / "confusion.png")
        plots.plot_misclassified(x_test, t_test, predictions, out / "misclassified.png",
                                 probabilities=softmax(scores))
    except ImportError as error:
        print(f"figures skipped: {error}")
        return
    print(f"figures written: {out / 'curves.png'}, filters.png, confusion.png, misclassified.png")


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


def check_earlier_run(args, settings: JobSettings) -> bool:
    """Whether --out holds a finished run of these settings; refuse one of other settings,
    and an unfinished one without --resume."""
    checkpoint = args.out / "checkpoint.npz"
    if not checkpoint.exists():
        return False
    run_file = args.out / "run.json"
    advice = (f"it records the earlier run in {args.out}: choose another --out, or delete that "
              f"folder to start afresh")
    # A run of an older version has no run.json: the Trainer still checks what its checkpoint holds.
    saved = read_json(run_file, advice) if run_file.exists() else settings.record()
    if not isinstance(saved, dict):
        raise ValueError(f"{run_file} is damaged (not a record of settings); {advice}")
    differing = [f"--{key.replace('_', '-')} {recorded} there, {value} here"
                 for key, recorded, value in settings.differences(upgraded_job_record(saved))]
    if differing:
        raise ValueError(f"{args.out} holds a run with other settings ({'; '.join(differing)}): "
                         f"repeat its flags, or choose another --out for a new run")
    history_file = args.out / "history.json"
    history = read_json(history_file, advice) if history_file.exists() else []
    if not isinstance(history, list):
        raise ValueError(f"{history_file} is damaged (not a list of epochs); {advice}")
    finished = len(history) == args.epochs or stops_early(history, args.early_stopping)
    if finished and (args.out / "weights.npz").exists():
        return True
    if not args.resume:
        raise ValueError(f"{checkpoint} holds an unfinished run: pass --resume to continue it, "
                         f"or choose another --out")
    return False


def run(args, world=None) -> Optional[float]:
    """Train (or report a finished run in ``args.out``) and return the test accuracy.

    With a :class:`cnn.distributed.World`, every rank trains its share and rank 0 alone prints,
    writes and returns the accuracy (the others return None)."""
    lr = default_lr(args) if args.lr is None else args.lr
    optimizer = make_optimizer(args.optimizer, lr=lr)
    if args.epochs < 1:
        raise ValueError(f"--epochs must be a positive integer, got {args.epochs}")
    root = world is None or world.is_root
    say = print if root else (lambda *words, **options: None)
    x_train, t_train, x_test, t_test = load_data(args, world)
    model = READY_MODELS[args.model].model_class(seed=args.seed, dtype=args.dtype)
    settings = JobSettings.of(args, lr)
    finished = False
    if root:
        args.out.mkdir(parents=True, exist_ok=True)
        finished = check_earlier_run(args, settings)
    if world is not None:
        finished = world.broadcast(finished)
    if finished:
        if root:
            model.load(args.out / "weights.npz")
            say(f"{args.out} holds a finished run of these settings; not training again. "
                f"Its weights, on the test set:")
        return score_test_set(model, x_test, t_test, world)[0]
    if root:
        atomic_write_text(args.out / "run.json", json.dumps(settings.record(), indent=2) + "\n")
    trainer = Trainer(model, optimizer, batch_size=args.batch_size, seed=args.seed,
                      lr_schedule=cosine(lr, args.epochs), checkpoint=args.out / "checkpoint.npz",
                      augment=AUGMENTATION if args.augment else None, validation=args.validation,
                      keep_best=args.keep_best, early_stopping=args.early_stopping, world=world)
    augmented = f", augmented by {AUGMENTATION!r}" if args.augment else ""
    ranks = "" if world is None else \
        f" on {world.size} ranks ({'/'.join(map(str, world.counts(args.batch_size)))} each)"
    say(f"{type(model).__name__} ({model.num_params():,} parameters, {args.dtype}) on "
        f"{len(x_train):,} images{augmented}, {args.epochs} epochs, {args.optimizer} lr {lr:g} "
        f"(cosine), batch {args.batch_size}{ranks}")
    held_out = 0 if args.validation is None else \
        len(split_indices(len(x_train), args.validation, args.seed)[1])
    trained_on = len(x_train) - held_out
    say(f"train loss: mean over the epoch's batches; train acc: "
        f"{min(trainer.train_sample, trained_on):,} "
        f"training images in inference mode")
    if args.validation is not None:
        say(f"val: {held_out:,} training images held out (validation "
            f"{args.validation:g}), not trained on")
    initial_filters = model.params[0].copy()
    started = time.perf_counter()
    history = trainer.fit(x_train, t_train, args.epochs, x_test, t_test, resume=args.resume)
    say(f"trained in {time.perf_counter() - started:.1f} s")
    if world is not None:
        # Epochs of a resumed run may have been trained by one process, without an allreduce.
        timed = [record["allreduce_ms"] for record in history if "allreduce_ms" in record]
        if timed:
            say(f"allreduce: {sum(timed) / len(timed):.2f} ms per step on average")
    if root:
        trainer.save_history(args.out / "history.json")
        model.save(args.out / "weights.npz")
    result, scores = score_test_set(model, x_test, t_test, world)
    if root:
        write_figures(model, history, x_test, t_test, scores, args.out, initial_filters)
    return result


def score_test_set(model, x_test, t_test, world=None) -> tuple[Optional[float], Optional[np.ndarray]]:
    """``(accuracy, scores)`` of the test set, predicted over the ranks of a world (rank 0's
    weights, gathered on rank 0; None on the others)."""
    if world is None:
        scores = model.predict_batches(x_test)
    else:
        from cnn.distributed import predict_batches
        world.broadcast_state(model)
        scores = predict_batches(model, x_test, world)
    return (None, None) if scores is None else (accuracy(scores, t_test), scores)


def default_lr(args) -> float:
    """The optimizer's default learning rate; Adam's is the model's own."""
    return READY_MODELS[args.model].adam_lr if args.optimizer == "adam" else \
        DEFAULT_LR[args.optimizer]


def main(argv: Optional[Sequence[str]] = None, default_data_dir: Optional[Path] = None) -> int:
    """Run the job with the command-line ``argv`` (default ``sys.argv[1:]``); return the exit status.

    ``default_data_dir`` stands for ``--data-dir`` when that flag is absent and the folder exists
    (the repository's example script passes its data/mnist).
    """
    args = parse_args(argv)
    if args.data_dir is None and default_data_dir is not None and Path(default_data_dir).is_dir():
        args.data_dir = Path(default_data_dir)
    world = None
    if args.distributed:
        try:
            world = join_world()
        except (ImportError, RuntimeError) as error:
            print(f"error: --distributed: {error}", file=sys.stderr)
            return 2
    try:
        accuracy = run(args, world)
    except TrainingInterrupted as interrupted:
        if world is None or world.is_root:
            print(f"\n{interrupted}: run the same command with --resume", file=sys.stderr)
        return 130
    except (ValueError, TypeError, FileNotFoundError, FloatingPointError) as error:
        rank = "" if world is None or world.size == 1 else f"rank {world.rank}: "
        print(f"{rank}error: {error}", file=sys.stderr)
        if world is not None and world.size > 1:
            world.abort(2)  # the other ranks may be waiting for this one
        return 2
    except BaseException:
        if world is None or world.size == 1:
            raise
        from cnn.distributed import abort_on_error
        with abort_on_error(world):
            raise
    if accuracy is not None:
        print(f"test accuracy: {accuracy:.4f}")
    return 0


def join_world():
    """This process's :class:`cnn.distributed.World`; refuses a process that mpiexec did not
    start, saying how to launch."""
    from cnn.distributed import LAUNCH_HINT, World, launched_by_mpiexec
    world = World()
    if world.size == 1 and not launched_by_mpiexec():
        raise RuntimeError(f"this process is not part of an MPI job; {LAUNCH_HINT}")
    return world


if __name__ == "__main__":
    sys.exit(main())
