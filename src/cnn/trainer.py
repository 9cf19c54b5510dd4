"""Mini-batch training with per-epoch reports, checkpoints, resume and Ctrl-C handling."""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Union

import numpy as np

import cnn_ext
from cnn._checks import check_instance, check_int, check_samples, describe
from cnn.augment import Transform
from cnn.checkpoint import check_checkpoint_arrays, checked_record, entries
from cnn.losses import class_indices
from cnn.metrics import correct_predictions
from cnn.models.sequential import Sequential
from cnn.optim import Optimizer
from cnn.progress import ProgressBar
from cnn.schedules import Schedule
from cnn.storage import atomic_write_npz, atomic_write_text, read_npz
from cnn.validation import best_epoch, check_validation, split_indices, stops_early

if TYPE_CHECKING:
    from cnn.distributed import World

__all__ = ["Trainer", "TrainingInterrupted", "format_epoch"]

# Streams of random numbers drawn from the Trainer's seed besides the shuffling's.
AUGMENT_STREAM, SAMPLE_STREAM = 1, 2
# The stream of the dropout generators of ranks other than 0 in distributed training.
RANK_LAYER_STREAM = 4


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped training after a step; ``checkpoint`` is where the state was saved (or None)."""

    def __init__(self, message: str, checkpoint: Optional[Path]) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint


def format_epoch(record: dict) -> str:
    """One report line: ``| epoch 3 | train loss 0.0812 acc 0.9751 | test loss 0.0594 acc 0.9808 | 9.1 s``.

    The train loss is the mean over the epoch's batches (training mode); the train accuracy is
    measured in inference mode on a sample of the training set (see :class:`Trainer`). A
    validated epoch shows ``val loss ... acc ...`` before the test set; a distributed one ends
    with the ranks and the mean time of a step's gradient ``Allreduce``."""
    line = (f"| epoch {record['epoch']} | train loss {record['train_loss']:.4f} "
            f"acc {record['train_acc']:.4f} |")
    for kind in ("val", "test"):
        if record.get(f"{kind}_loss") is not None:
            line += f" {kind} loss {record[f'{kind}_loss']:.4f} acc {record[f'{kind}_acc']:.4f} |"
    line += f" {record['seconds']:.1f} s"
    if record.get("allreduce_ms") is not None:
        line += f" | {record['ranks']} ranks, allreduce {record['allreduce_ms']:.2f} ms a step"
    return line


class DeferredInterrupt:
    """Inside the block the first Ctrl-C (or another of ``signals``) only sets ``requested``
    (so that a step is never cut in half); a second one interrupts at once. Outside the main
    thread, where signal handlers cannot be set, the signals behave as usual."""

    def __init__(self, signals: tuple[int, ...] = (signal.SIGINT,)) -> None:
        self.requested = False
        self.signals = signals
        self.previous_handlers: dict[int, object] = {}

    def __enter__(self) -> "DeferredInterrupt":
        if threading.current_thread() is threading.main_thread():
            self.previous_handlers = {number: signal.signal(number, self._request)
                                      for number in self.signals}
        return self

    def _request(self, signum, frame) -> None:
        self.requested = True
        signal.signal(signum, self.previous_handlers[signum])

    def __exit__(self, *exc_info) -> None:
        for number, handler in self.previous_handlers.items():
            signal.signal(number, handler)


class Trainer:
    """Train a model with an optimizer on (x, t) in shuffled mini-batches.

    Every epoch visits every sample once (the last batch may be smaller), in an
    order drawn from a generator seeded by ``seed``; the same seed gives the
    same run. After each epoch the model is evaluated on the test set, a line
    is reported and, with ``checkpoint``, the whole state (model, optimizer,
    generator, history, position) is written atomically, so that
    ``fit(..., resume=True)`` continues an interrupted run to the same final
    weights as an uninterrupted one. Ctrl-C finishes the current step, saves a
    checkpoint and raises :class:`TrainingInterrupted`. A loss that becomes NaN
    or infinite raises ``FloatingPointError`` naming the epoch and the step.

    Args:
        model: a :class:`~cnn.models.Sequential` (for example a LeNet).
        optimizer: any :class:`~cnn.optim.Optimizer`.
        batch_size: samples per step.
        seed: seed of the shuffling generator.
        lr_schedule: optional callable epoch (0-based) -> learning rate.
        checkpoint: path of the checkpoint file (``.npz``), or None for none.
        log: called with each report line (default ``print``); None for silence.
        progress: draw a progress bar within each epoch; None (default) draws
            only when standard error is a terminal.
        augment: a :class:`~cnn.augment.Transform` applied to every training batch (never to
            the test set), drawing from a generator seeded by ``seed`` and saved in checkpoints;
            None (default) for none.
        train_sample: how many training samples (drawn once from ``seed``) the training
            accuracy of each epoch is measured on, in inference mode, as the book does: with
            dropout after the last layer (the book's DeepConvNet) the accuracy of the training
            batches themselves, in training mode, reads about half the true one. The running
            training-mode figure is kept as ``batch_acc``.
        validation: data to choose by, evaluated after each epoch (``val_loss``, ``val_acc``):
            a fraction in (0, 1) of the training data, held out (drawn once from ``seed``) and
            not trained on, or an ``(x, t)`` pair; None (default) for none.
        keep_best: at the end of ``fit``, restore the weights of the epoch with the best
            validation accuracy (the lower validation loss breaking a tie); the checkpoint keeps
            them too, so a resumed run restores the same. Needs ``validation``.
        early_stopping: stop when the validation accuracy has not improved for this many
            epochs (a patience); None (default) trains every epoch. Needs ``validation``.
        world: a :class:`cnn.distributed.World` to train data-parallel on its ranks (see the
            guide "Training on several processes"): every rank runs ``fit`` on the same data;
            each computes the gradient of its shard of every global batch of ``batch_size``,
            one ``Allreduce`` averages them, and every rank applies the same update, so the
            weights are those of one process up to float rounding. Evaluation is split over
            the ranks; rank 0 alone logs and writes the checkpoint. Augmentation and dropout
            draw from streams of their own on each rank; batch norm uses each rank's batch
            statistics and keeps rank 0's running ones. None (default): this process alone.
    """

    def __init__(self, model: Sequential, optimizer: Optimizer, batch_size: int = 128, seed: int = 0,
                 lr_schedule: Optional[Schedule] = None,
                 checkpoint: Optional[Union[str, os.PathLike]] = None,
                 log: Optional[Callable[[str], None]] = print,
                 progress: Optional[bool] = None, augment: Optional[Transform] = None,
                 train_sample: int = 1000,
                 validation: Union[None, float, tuple[np.ndarray, np.ndarray]] = None,
                 keep_best: bool = False, early_stopping: Optional[int] = None,
                 world: Optional["World"] = None) -> None:
        self.model = check_instance("model", model, Sequential, "cnn.models.Sequential")
        self.optimizer = check_instance("optimizer", optimizer, Optimizer, "cnn.optim.Optimizer")
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.seed = check_int("seed", seed, 0)
        self.lr_schedule = lr_schedule
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.log = log or (lambda line: None)
        self.progress = progress
        if augment is not None and not isinstance(augment, Transform):
            raise TypeError(f"augment must be a cnn.augment.Transform (or None), got {describe(augment)}")
        self.augment = augment
        self.train_sample = check_int("train_sample", train_sample, 1)
        self.validation = check_validation(validation)
        if not isinstance(keep_best, (bool, np.bool_)):
            raise TypeError(f"keep_best must be True or False, got {describe(keep_best)}")
        self.keep_best = bool(keep_best)
        self.early_stopping = None if early_stopping is None else \
            check_int("early_stopping", early_stopping, 1)
        for name, wanted in (("keep_best", self.keep_best), ("early_stopping", early_stopping)):
            if wanted and self.validation is None:
                raise ValueError(f"{name}={wanted!r} chooses by a validation set: pass "
                                 f"validation=0.1 (a tenth of the training data) or "
                                 f"validation=(x_val, t_val)")
        self.history: list[dict] = []
        self.world = world
        if world is not None:
            from cnn.distributed import GradientAllreduce, World
            check_instance("world", world, World, "cnn.distributed.World (or None)")
            self.allreduce = GradientAllreduce(world)
            if not world.is_root:
                self.log, self.progress = (lambda line: None), False

    def fit(self, x: np.ndarray, t: np.ndarray, epochs: int, x_test: Optional[np.ndarray] = None,
            t_test: Optional[np.ndarray] = None, resume: bool = False) -> list[dict]:
        """Train for ``epochs`` epochs in all (counting those of a resumed run).

        Args:
            x: training samples (N, ...), or flat (N, C*H*W) for a model with an input_shape.
            t: their labels, class indices (N,) or one-hot rows (N, classes).
            epochs: total number of epochs.
            x_test: an optional test set, evaluated after each epoch (never chosen by).
            t_test: its labels, given with ``x_test``.
            resume: continue from ``checkpoint`` if that file exists.

        Returns:
            The history: one dict per epoch with ``epoch``, ``lr``, ``train_loss`` (mean over
            the epoch's batches), ``train_acc`` (inference mode, on ``train_sample`` training
            samples), ``batch_acc`` (the epoch's batches, training mode), ``val_loss``,
            ``val_acc`` (None without ``validation``), ``test_loss``, ``test_acc`` (None without
            a test set) and ``seconds``. With ``early_stopping`` it may hold fewer than
            ``epochs`` epochs.
        """
        epochs = check_int("epochs", epochs, 1)
        if resume and self.checkpoint is None:
            raise ValueError("resume=True needs a checkpoint path; pass checkpoint=... to Trainer")
        with cnn_ext.engine_scope():  # once for the whole fit, not per step
            x, t, x_test, t_test = self._check_data(x, t, x_test, t_test)
            x, t, held_out = self._split_validation(x, t)
            evaluated = {"val": held_out, "test": None if x_test is None else (x_test, t_test)}
            n_samples = x.shape[0]
            if self.world is not None:
                self._check_same_setup(x, n_samples, epochs)
            state = self._fresh_state(n_samples)
            if resume and self._is_root() and self.checkpoint.exists():
                state = self._load_checkpoint(n_samples)
                self.log(f"resumed from {self.checkpoint} at epoch {state['epoch'] + 1}, "
                         f"step {state['step']}")
            if self.world is not None:
                state = self._share_state(state)
            # mpiexec forwards SIGTERM as well as Ctrl-C to every rank: both end the job cleanly.
            signals = (signal.SIGINT,) if self.world is None else (signal.SIGINT, signal.SIGTERM)
            with DeferredInterrupt(signals) as interrupt:
                while state["epoch"] < epochs and not stops_early(self.history, self.early_stopping):
                    self._run_epoch(state, x, t, evaluated, interrupt)
            if stops_early(self.history, self.early_stopping) and state["epoch"] < epochs:
                self.log(f"stopped early after epoch {state['epoch']}: the validation accuracy "
                         f"has not improved for {self.early_stopping} epochs")
            if self.keep_best and state["best"] is not None:
                self.model.load_state_dict(state["best"], source="the best epoch's weights")
                best = self.history[best_epoch(self.history) - 1]
                self.log(f"kept the weights of epoch {best['epoch']} (validation accuracy "
                         f"{best['val_acc']:.4f})")
        return self.history

    def save_history(self, path: Union[str, os.PathLike]) -> None:
        """Write the history as JSON, atomically (the old file or the new one, never half)."""
        atomic_write_text(path, json.dumps(self.history, indent=2) + "\n")

    def _check_data(self, x, t, x_test, t_test) -> tuple:
        """Check the data once: ``(x, t, x_test, t_test)`` with the samples as the model's
        batches (flat samples reshaped to its input_shape) and the labels as class indices
        (array-likes accepted)."""
        check_samples("x", x, self.model.dtype)
        x, _ = self.model._as_batch(x, "x")
        if x_test is not None:
            x_test = self._check_like(x, x_test, "x_test")
        if (x_test is None) != (t_test is None):
            raise ValueError("x_test and t_test must be given together")
        classes = self._classes(x)
        t = class_indices(t, x.shape[0], classes)
        if x_test is not None:
            t_test = class_indices(t_test, x_test.shape[0], classes, "t_test")
        return x, t, x_test, t_test

    def _check_like(self, x: np.ndarray, other, name: str) -> np.ndarray:
        """``other`` checked as samples of the model, shaped like the training samples ``x``."""
        check_samples(name, other, self.model.dtype)
        other, _ = self.model._as_batch(other, name)
        if other.shape[1:] != x.shape[1:]:
            raise ValueError(f"{name} must hold samples of the training samples' shape "
                             f"{x.shape[1:]}, got shape {other.shape}")
        return other

    def _split_validation(self, x: np.ndarray, t: np.ndarray) -> tuple:
        """``(x, t, held_out)``: the samples trained on and the validation pair (or None)."""
        if self.validation is None:
            return x, t, None
        if isinstance(self.validation, tuple):
            x_val, t_val = self.validation
            x_val = self._check_like(x, x_val, "validation x")
            return x, t, (x_val, class_indices(t_val, x_val.shape[0], self._classes(x),
                                               "validation t"))
        train, held_out = split_indices(x.shape[0], self.validation, self.seed)
        return x[train], t[train], (x[held_out], t[held_out])

    def _validation_setting(self) -> Union[None, float, str]:
        """What a checkpoint records of the validation, to refuse resuming with another."""
        if isinstance(self.validation, tuple):
            return f"a pair of {len(self.validation[0])} samples"
        return self.validation

    def _classes(self, x: np.ndarray) -> int:
        """The number of classes: the width of the model's scores for one sample."""
        return self.model.predict(x[:1]).shape[1]

    def _fresh_state(self, n_samples: int) -> dict:
        self.history = []
        return {"epoch": 0, "step": 0, "order": None, "loss_sum": 0.0, "correct": 0, "seen": 0,
                "seconds": 0.0, "rng": np.random.default_rng(self.seed), "n_samples": n_samples,
                "augment_rng": self._augment_generator(), "best": None}

    def _augment_generator(self) -> np.random.Generator:
        """The augmentation's own stream, apart from the shuffling's, from the same seed."""
        return np.random.default_rng([self.seed, AUGMENT_STREAM])

    def _sample(self, n_samples: int) -> np.ndarray:
        """The fixed training samples the training accuracy is measured on."""
        if self.train_sample >= n_samples:
            return np.arange(n_samples)
        return np.sort(np.random.default_rng([self.seed, SAMPLE_STREAM]).choice(
            n_samples, self.train_sample, replace=False))

    def _run_epoch(self, state: dict, x, t, evaluated: dict, interrupt: "DeferredInterrupt") -> None:
        """One epoch from ``state``'s position; then the evaluation of the ``evaluated`` pairs
        (``val``, ``test``: ``(x, t)`` or None), the best weights, the checkpoint, the report."""
        epoch = state["epoch"]
        if self.lr_schedule is not None:
            self.optimizer.lr = float(self.lr_schedule(epoch))
        if state["order"] is None:
            state["order"] = state["rng"].permutation(state["n_samples"])
        order = state["order"]
        steps = math.ceil(state["n_samples"] / self.batch_size)
        started = time.perf_counter() - state["seconds"]
        with ProgressBar(steps, f"epoch {epoch + 1}", enabled=self.progress) as bar:
            bar.update(state["step"])
            while state["step"] < steps:
                batch = order[state["step"] * self.batch_size:(state["step"] + 1) * self.batch_size]
                mine = batch if self.world is None else batch[self.world.shard(len(batch))]
                x_batch = x[mine]
                if self.augment is not None and len(mine):
                    x_batch = self.augment(x_batch, state["augment_rng"])
                if self.world is None:
                    loss, correct = self._train_step(x_batch, t[mine], epoch, state["step"])
                    stop = interrupt.requested
                else:
                    loss, correct, stop = self._train_step_distributed(
                        x_batch, t[mine], len(batch), epoch, state["step"], interrupt.requested)
                state["loss_sum"] += loss * len(batch)
                state["correct"] += correct
                state["seen"] += len(batch)
                state["step"] += 1
                bar.update(1, loss=state["loss_sum"] / state["seen"])
                if stop:
                    state["seconds"] = time.perf_counter() - started
                    self._interrupt(state)
        sample = self._sample(state["n_samples"])
        record = {"epoch": epoch + 1, "lr": self.optimizer.lr,
                  "train_loss": state["loss_sum"] / state["seen"],
                  "train_acc": self._evaluate(x[sample], t[sample])[1],
                  "batch_acc": state["correct"] / state["seen"]}
        if self.world is not None:
            # Every rank gets rank 0's batch-norm statistics (and any rounding apart undone).
            self.world.broadcast_state(self.model, self.optimizer)
        for kind, pair in evaluated.items():
            record[f"{kind}_loss"], record[f"{kind}_acc"] = (None, None) if pair is None else \
                self._evaluate(*pair)
        record["seconds"] = time.perf_counter() - started
        if self.world is not None:
            record["ranks"] = self.world.size
            record["allreduce_ms"] = 1000 * self.allreduce.seconds / max(self.allreduce.calls, 1)
            self.allreduce.seconds, self.allreduce.calls = 0.0, 0
        self.history.append(record)
        if self.keep_best and best_epoch(self.history) == record["epoch"]:
            state["best"] = {key: array.copy() for key, array in self.model.state_dict().items()}
        state.update(epoch=epoch + 1, step=0, order=None, loss_sum=0.0, correct=0, seen=0, seconds=0.0)
        if self.checkpoint is not None and self._is_root():
            self._save_checkpoint(state)
        self.log(format_epoch(record))
        stop = interrupt.requested
        if self.world is not None:  # every rank stops, or none
            stop = bool(self.world.sum([stop])[0])
        if stop:  # Ctrl-C during the evaluation or the checkpoint
            self._interrupt(state)

    def _train_step(self, x_batch, t_batch, epoch: int, step: int) -> tuple[float, int]:
        loss, scores = self.model.train_step(x_batch, t_batch, checked=True)
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"the loss became {loss} at epoch {epoch + 1}, step {step + 1}; training "
                f"stopped. Try a smaller learning rate (lr={self.optimizer.lr:g})")
        self.optimizer.update(self.model.named_params(), self.model.named_grads())
        return loss, correct_predictions(scores, t_batch)

    def _train_step_distributed(self, x_mine, t_mine, batch_size: int, epoch: int, step: int,
                                stop_requested: bool) -> tuple[float, int, bool]:
        """One step on this rank's shard of a global batch of ``batch_size``: ``(loss, correct,
        stop)`` of the whole batch, ``stop`` true when any rank was asked to stop."""
        loss_sum = correct = 0
        if len(x_mine):
            loss, scores = self.model.train_step(x_mine, t_mine, checked=True)
            loss_sum, correct = loss * len(x_mine), correct_predictions(scores, t_mine)
        grads, (loss_sum, correct, stop) = self.allreduce(
            self.model.named_grads(), len(x_mine) / batch_size, [loss_sum, correct, stop_requested])
        loss = loss_sum / batch_size
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"the loss became {loss} at epoch {epoch + 1}, step {step + 1}; training "
                f"stopped. Try a smaller learning rate (lr={self.optimizer.lr:g})")
        self.optimizer.update(self.model.named_params(), grads)
        return loss, int(round(correct)), bool(stop)

    def _evaluate(self, x: np.ndarray, t: np.ndarray) -> tuple[float, float]:
        """``(loss, accuracy)`` of checked samples, split over the ranks with a world."""
        if self.world is None:
            return self.model.evaluate(x, t, checked=True)
        mine = self.world.shard(len(x))
        loss = accuracy = 0.0
        if len(x[mine]):
            loss, accuracy = self.model.evaluate(x[mine], t[mine], checked=True)
        count = len(x[mine])
        loss_sum, correct = self.world.sum([loss * count, accuracy * count])
        return float(loss_sum / len(x)), float(round(correct) / len(x))

    def _is_root(self) -> bool:
        return self.world is None or self.world.is_root

    def _check_same_setup(self, x: np.ndarray, n_samples: int, epochs: int) -> None:
        """Refuse, on every rank, ranks that would not train the same model on the same data."""
        self.world.check_same("models", [(name, array.shape, str(array.dtype))
                                         for name, array in self.model.named_arrays().items()])
        self.world.check_same("training setups", {
            "samples": n_samples, "sample shape": x.shape[1:], "epochs": epochs,
            "batch_size": self.batch_size, "seed": self.seed, "optimizer": repr(self.optimizer),
            "augment": self._augment_setting(), "validation": self._validation_setting(),
            "keep_best": self.keep_best, "early_stopping": self.early_stopping})

    def _share_state(self, state: dict) -> dict:
        """Rank 0's training state (position, generators, history, weights, optimizer state),
        on every rank; the other ranks' augmentation and dropout draw from streams of their own."""
        world = self.world
        shared = world.broadcast((state, self.history) if world.is_root else None)
        world.broadcast_state(self.model, self.optimizer)
        if world.is_root:
            return state
        state, self.history = shared
        position = [world.rank, state["epoch"], state["step"]]
        state["augment_rng"] = np.random.default_rng([self.seed, AUGMENT_STREAM, *position])
        for index, layer in enumerate(self._layers_with_rng()):
            layer.rng = np.random.default_rng([self.seed, RANK_LAYER_STREAM, index, *position])
        return state

    def _interrupt(self, state: dict) -> None:
        where = (f"epoch {state['epoch'] + 1}, step {state['step']}" if state["step"]
                 else f"the end of epoch {state['epoch']}")
        if self.checkpoint is None:
            raise TrainingInterrupted(f"training interrupted at {where}; no checkpoint path was "
                                      f"given, so nothing was saved", None)
        if self._is_root():
            self._save_checkpoint(state)
        raise TrainingInterrupted(f"training interrupted at {where}; checkpoint saved to "
                                  f"{self.checkpoint}; resume to continue", self.checkpoint)

    def _save_checkpoint(self, state: dict) -> None:
        meta = {key: state[key] for key in ("epoch", "step", "loss_sum", "correct", "seen",
                                            "seconds", "n_samples")}
        meta.update(rng=state["rng"].bit_generator.state, batch_size=self.batch_size,
                    seed=self.seed, history=self.history, lr=self.optimizer.lr,
                    layer_rngs=[layer.rng.bit_generator.state for layer in self._layers_with_rng()],
                    augment=self._augment_setting(), augment_rng=state["augment_rng"].bit_generator.state,
                    validation=self._validation_setting(), keep_best=self.keep_best,
                    early_stopping=self.early_stopping)
        arrays = {f"model.{key}": value for key, value in self.model.state_dict().items()}
        arrays.update({f"optimizer.{key}": value for key, value in self.optimizer.state_dict().items()})
        arrays["meta"] = np.array(json.dumps(meta))
        if state["best"] is not None:
            arrays.update({f"best.{key}": value for key, value in state["best"].items()})
        if state["order"] is not None:
            arrays["order"] = state["order"]
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_npz(self.checkpoint, arrays)

    def _load_checkpoint(self, n_samples: int) -> dict:
        source = f"checkpoint {str(self.checkpoint)!r}"
        arrays = read_npz(self.checkpoint, check=lambda specs: check_checkpoint_arrays(
            specs, source, n_samples, self.model, self.optimizer))
        expected = {"n_samples": n_samples, "batch_size": self.batch_size, "seed": self.seed,
                    "augment": self._augment_setting(), "validation": self._validation_setting(),
                    "keep_best": self.keep_best, "early_stopping": self.early_stopping}
        meta = checked_record(arrays["meta"], source, expected, len(self._layers_with_rng()),
                              lambda: np.random.default_rng(self.seed), self._augment_generator)
        self.model.load_state_dict(entries(arrays, "model."), source=source)
        self.optimizer.load_state_dict(entries(arrays, "optimizer."),
                                       names=list(self.model.named_params()))
        self.optimizer.lr = meta["lr"]
        for layer, rng_state in zip(self._layers_with_rng(), meta["layer_rngs"]):
            layer.rng.bit_generator.state = rng_state
        self.history = meta["history"]
        state = {key: meta[key] for key in ("epoch", "step", "loss_sum", "correct", "seen",
                                            "seconds", "n_samples", "rng", "augment_rng")}
        state["order"] = arrays.get("order")
        best = entries(arrays, "best.")
        state["best"] = best if self.keep_best and best else None
        if state["order"] is not None and not np.array_equal(np.sort(state["order"]),
                                                             np.arange(n_samples)):
            raise ValueError(f"{source}: its 'order' is not an order of the {n_samples} samples")
        return state

    def _augment_setting(self) -> Optional[str]:
        """What a checkpoint records of the augmentation, to refuse resuming with another."""
        return None if self.augment is None else repr(self.augment)

    def _layers_with_rng(self):
        return [layer for layer in self.model.leaf_layers()
                if isinstance(getattr(layer, "rng", None), np.random.Generator)]
