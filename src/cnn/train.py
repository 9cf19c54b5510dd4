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

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from cnn import plots
from cnn.augment import RandomShift
from cnn.datasets import DATA_ENV_VAR, load_mnist
from cnn.datasets.mnist import missing_files
from cnn.distributed import JobRefused
from cnn.functions import softmax
from cnn.memory import NotEnoughMemory, format_size
from cnn.metrics import accuracy
from cnn.models.ready import READY_MODELS
from cnn.optim import make_optimizer
from cnn.run_folder import JobSettings, check_earlier_run
from cnn.run_report import LossDiverged, counted
from cnn.schedules import cosine
from cnn.storage import atomic_write_text, read_json
from cnn.train_flags import default_lr, parse_args
from cnn.trainer import Trainer, TrainingInterrupted
from cnn.validation import split_indices

__all__ = ["main", "parse_args", "run"]

AUGMENTATION = RandomShift(2)


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
    if data_dir is not None:
        if not data_dir.is_dir():
            raise FileNotFoundError(f"--data-dir: the directory {str(data_dir)!r} does not exist")
        missing = missing_files(data_dir)
        if missing:
            raise FileNotFoundError(f"--data-dir {str(data_dir)!r} lacks {', '.join(missing)}: put "
                                    f"MNIST's four files there (gzip or raw IDX), or leave out "
                                    f"--data-dir to read them from ${DATA_ENV_VAR} or the user "
                                    f"cache, downloading what is missing")
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=False, root=data_dir,
                                                      download=data_dir is None)
    if args.train_size is not None:
        if not 1 <= args.train_size <= len(x_train):
            raise ValueError(f"--train-size must be between 1 and {len(x_train)}, got {args.train_size}")
        x_train, t_train = x_train[:args.train_size], t_train[:args.train_size]
    dtype = np.dtype(args.dtype)
    return x_train.astype(dtype, copy=False), t_train, x_test.astype(dtype, copy=False), t_test


def write_figures(model, history, x_test, t_test, scores, out: Path, initial_filters,
                  only_missing: bool = False) -> None:
    """The four figures of a run, from the test set's ``scores``, each written atomically; with
    ``only_missing``, those absent from ``out`` alone. Skipped, saying why, without matplotlib."""
    predictions = scores.argmax(axis=1)
    drawings = {
        "curves.png": lambda path: plots.plot_history(history, path),
        "filters.png": lambda path: plots.plot_filters(model.params[0], path, before=initial_filters),
        "confusion.png": lambda path: plots.plot_confusion_matrix(t_test, predictions, 10, path),
        "misclassified.png": lambda path: plots.plot_misclassified(
            x_test, t_test, predictions, path, probabilities=softmax(scores)),
    }
    names = [name for name in drawings if not (only_missing and (out / name).exists())]
    if not names:
        return
    try:
        for name in names:
            drawings[name](out / name)
    except ImportError as error:
        print(f"figures skipped: {error}")
        return
    print(f"figures written: {out / names[0]}" + "".join(f", {name}" for name in names[1:]))


def run(args, world=None) -> Optional[float]:
    """Train (or report a finished run in ``args.out``) and return the test accuracy.

    ``args`` are flags as :func:`parse_args` returns them, checked. With a
    :class:`cnn.distributed.World`, every rank trains its share and rank 0 alone prints, writes
    and returns the accuracy (the others return None)."""
    lr = default_lr(args) if args.lr is None else args.lr
    optimizer = make_optimizer(args.optimizer, lr=lr)
    root = world is None or world.is_root
    say = print if root else (lambda *words, **options: None)
    x_train, t_train, x_test, t_test = load_data(args, world)
    model = READY_MODELS[args.model].model_class(seed=args.seed, dtype=args.dtype)
    initial_filters = model.params[0].copy()
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
        result, scores = score_test_set(model, x_test, t_test, world)
        if root:
            history = read_json(args.out / "history.json", "run without it to train afresh")
            with _results_written(args):
                write_figures(model, history, x_test, t_test, scores, args.out, initial_filters,
                              only_missing=True)
        return result
    if root:
        atomic_write_text(args.out / "run.json", json.dumps(settings.record(), indent=2) + "\n")
    trainer = Trainer(model, optimizer, batch_size=args.batch_size, seed=args.seed,
                      lr_schedule=cosine(lr, args.epochs), checkpoint=args.out / "checkpoint.npz",
                      augment=AUGMENTATION if args.augment else None, validation=args.validation,
                      keep_best=args.keep_best, early_stopping=args.early_stopping,
                      check_memory=args.memory_check, world=world)
    augmented = f", augmented by {AUGMENTATION!r}" if args.augment else ""
    ranks = "" if world is None else \
        f" on {world.size} ranks ({'/'.join(map(str, world.counts(args.batch_size)))} each)"
    say(f"{type(model).__name__} ({model.num_params():,} parameters, {args.dtype}) on "
        f"{len(x_train):,} images{augmented}, {counted(args.epochs, 'epoch')}, {args.optimizer} "
        f"lr {lr:g} (cosine), batch {args.batch_size}{ranks}")
    held_out = 0 if args.validation is None else _held_out(args, len(x_train))
    trained_on = len(x_train) - held_out
    say(f"train loss: mean over the epoch's batches; train acc: "
        f"{counted(min(trainer.train_sample, trained_on), 'training image')} in inference mode")
    if args.validation is not None:
        say(f"val: {counted(held_out, 'training image')} held out (validation "
            f"{args.validation:g}), not trained on")
    started = time.perf_counter()
    try:
        history = trainer.fit(x_train, t_train, args.epochs, x_test, t_test, resume=args.resume)
    except NotEnoughMemory as short:
        ranks = 1 if world is None else world.size
        refusal = JobRefused if ranks > 1 else ValueError  # the ranks refuse together
        raise refusal(f"--batch-size {args.batch_size} needs about {format_size(short.needed)} "
                      f"for one training step of {type(model).__name__}"
                      + (" on each rank" if ranks > 1 else "")
                      + f", more than this process may take ({short.describe_budget()}): "
                        f"{short.what_fits('--batch-size ', ranks)}, or pass "
                        f"--no-memory-check to train anyway") from None
    except LossDiverged as diverged:
        raise FloatingPointError(f"the loss became {diverged.loss} at epoch {diverged.epoch}, "
                                 f"step {diverged.step}; training stopped. Try a smaller learning "
                                 f"rate than --lr {diverged.lr:g}") from None
    say(f"trained in {time.perf_counter() - started:.1f} s")
    if world is not None:
        # Epochs of a resumed run may have been trained by one process, without an allreduce.
        timed = [record["allreduce_ms"] for record in history if "allreduce_ms" in record]
        if timed:
            say(f"allreduce: {sum(timed) / len(timed):.2f} ms per step on average")
    with _results_written(args):
        if root:
            trainer.save_history(args.out / "history.json")
            model.save(args.out / "weights.npz")
        result, scores = score_test_set(model, x_test, t_test, world)
        if root:
            write_figures(model, history, x_test, t_test, scores, args.out, initial_filters)
    return result


@contextlib.contextmanager
def _results_written(args) -> Iterator[None]:
    """Turn Ctrl-C while a trained run's results are written into the job's one-line message:
    the checkpoint holds the run, so the same command with --resume writes what is missing."""
    try:
        yield
    except TrainingInterrupted:
        raise
    except KeyboardInterrupt:
        raise TrainingInterrupted(f"interrupted while writing the results of the trained run "
                                  f"into {args.out}", args.out / "checkpoint.npz") from None


def _held_out(args, n_images: int) -> int:
    """How many of the ``n_images`` training images ``--validation`` holds out."""
    try:
        return len(split_indices(n_images, args.validation, args.seed)[1])
    except ValueError:
        raise ValueError(f"--validation {args.validation:g} of {counted(n_images, 'training image')} "
                         f"holds out {round(args.validation * n_images)}; it must leave at least "
                         f"one image on each side: choose a fraction between "
                         f"{1 / n_images:.2g} and {1 - 1 / n_images:.2g}") from None


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
    except KeyboardInterrupt as interrupted:
        if world is None or world.is_root:
            print(f"\n{interrupted}: run the same command with --resume" if
                  isinstance(interrupted, TrainingInterrupted) else "\ninterrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, FileNotFoundError, FloatingPointError) as error:
        report_error(error, world)
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


def report_error(error: Exception, world) -> None:
    """Print ``error`` for the user on standard error.

    In a job of several ranks, a :class:`~cnn.distributed.JobRefused` is raised on every rank at
    once: rank 0 prints each distinct message once and no rank leaves before it is printed. Any
    other error is one rank's alone and ends the whole job, whose other ranks may be waiting
    for this one."""
    if world is None or world.size == 1:
        print(f"error: {error}", file=sys.stderr)
    elif isinstance(error, JobRefused):
        messages = world.gather(str(error))
        if world.is_root:
            distinct = list(dict.fromkeys(messages))
            for message in distinct:
                rank = "" if len(distinct) == 1 else f"rank {messages.index(message)}: "
                print(f"{rank}error: {message}", file=sys.stderr, flush=True)
        world.barrier()
    else:
        print(f"rank {world.rank}: error: {error}", file=sys.stderr)
        world.abort(2)


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
