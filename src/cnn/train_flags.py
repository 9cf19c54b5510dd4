"""The main job's command line: its flags, their defaults per model, and their checks.

Every value is checked here, under the flag's own name (``--lr must be ...``), before any
of the library sees it; so the job's messages speak of the flags its user typed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cnn._checks import check_float, check_int
from cnn.models.ready import READY_MODELS
from cnn.optim import OPTIMIZERS

__all__ = ["parse_args", "check_flags", "default_lr", "DEFAULT_LR"]

#: Each optimizer's learning rate when ``--lr`` is not given (Adam's is the model's own).
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.01, "rmsprop": 0.001,
              "adam": 0.002}


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
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                        help="precision of the weights and images (default float32; float64 is "
                             "the book's arithmetic, several times slower)")
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
    parser.add_argument("--memory-check", action=argparse.BooleanOptionalAction, default=True,
                        help="before training, estimate the memory of one step at --batch-size "
                             "and stop, naming a batch size that fits, when it exceeds what this "
                             "machine has free (default: on; CNN_EXT_MEMORY_LIMIT=8G caps the "
                             "memory assumed)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its checkpoint: an interrupted run "
                             "with the same flags, or a finished one to a larger --epochs")
    parser.add_argument("--distributed", action="store_true",
                        help="train data-parallel on the ranks of an MPI job: launch with "
                             "mpiexec -n N cnn-train --distributed ... (needs the mpi extra)")
    args = parser.parse_args(argv)
    try:
        check_flags(args)
    except ValueError as error:
        parser.error(str(error))  # the usage line and the message, exit status 2
    ready = READY_MODELS[args.model]
    for name in ("epochs", "batch_size", "augment"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(ready, name))
    if args.out is None:
        args.out = Path("runs") / args.model
    return args


def check_flags(args: argparse.Namespace) -> None:
    """Refuse a flag's value that the job cannot use, naming the flag (``ValueError``)."""
    for flag, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size),
                        ("--train-size", args.train_size), ("--early-stopping", args.early_stopping)):
        if value is not None:
            check_int(flag, value, 1)
    check_int("--seed", args.seed, 0)
    if args.lr is not None:
        check_float("--lr", args.lr)
    if args.validation is not None:
        check_float("--validation", args.validation, 0.0, 1.0)
    for flag, wanted in (("--keep-best", args.keep_best),
                         ("--early-stopping", args.early_stopping is not None)):
        if wanted and args.validation is None:
            raise ValueError(f"{flag} chooses by a validation set: add --validation 0.1 to hold "
                             f"out a tenth of the training images")


def default_lr(args) -> float:
    """The optimizer's default learning rate; Adam's is the model's own."""
    return READY_MODELS[args.model].adam_lr if args.optimizer == "adam" else \
        DEFAULT_LR[args.optimizer]
