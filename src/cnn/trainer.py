"""Mini-batch training with per-epoch reports, checkpoints, resume and Ctrl-C handling.

The loop is here; what a run is (its settings and position) lives in :mod:`cnn.run_state`, its
checkpoints in :mod:`cnn.checkpoint`, how a step runs (in this process or over MPI ranks) in
:mod:`cnn.steps` and :mod:`cnn.distributed`, its random streams in :mod:`cnn.streams`, and its
report line and Ctrl-C handling in :mod:`cnn.run_report`.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Union

import numpy as np

import cnn_ext
from cnn._checks import check_instance, check_int, describe
from cnn.augment import Transform
from cnn.checkpoint import load_checkpoint, save_checkpoint
from cnn.distributed import DistributedSteps, JobRefused
from cnn.memory import NotEnoughMemory, check_training_memory
from cnn.layers.base import layers_with_rng
from cnn.models.sequential import Sequential
from cnn.optim import Optimizer
from cnn.progress import ProgressBar
from cnn.run_report import DeferredInterrupt, LossDiverged, TrainingInterrupted, format_epoch
from cnn.run_state import RunSettings, RunState
from cnn.schedules import Schedule
from cnn.steps import LocalSteps
from cnn.storage import atomic_write_text
from cnn.streams import Stream, stream
from cnn.training_data import checked_data, split_validation
from cnn.validation import best_epoch, check_validation, stops_early

if TYPE_CHECKING:
    from cnn.distributed import World

__all__ = ["Trainer", "TrainingInterrupted", "format_epoch"]


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
    or infinite raises :class:`~cnn.run_report.LossDiverged` (a ``FloatingPointError``) naming the
    epoch and the step.

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
        check_memory: before training, measure the peak memory of one step at ``batch_size``
            (:mod:`cnn.memory`) and raise :class:`~cnn.memory.NotEnoughMemory`, naming a batch
            size that fits, when it exceeds what this process may take; False skips the check.
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
                 check_memory: bool = True, world: Optional["World"] = None) -> None:
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
        if not isinstance(check_memory, (bool, np.bool_)):
            raise TypeError(f"check_memory must be True or False, got {describe(check_memory)}")
        self.check_memory = bool(check_memory)
        self.history: list[dict] = []
        if world is None:
            self.steps = LocalSteps()
        else:
            self.steps = DistributedSteps(world, self.seed)
        if not self.steps.is_root:
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
            x, t, x_test, t_test = checked_data(self.model, x, t, x_test, t_test)
            x, t, held_out = split_validation(self.model, self.validation, self.seed, x, t)
            evaluated = {"val": held_out, "test": None if x_test is None else (x_test, t_test)}
            settings = self.settings(x.shape[0])
            self.steps.check_setup(self.model, self.optimizer, settings, x.shape[1:], epochs)
            if self.check_memory:
                self._check_memory(x.shape)
            state, self.history = RunState.fresh(x.shape[0], self.seed), []
            if resume and self.steps.is_root and self.checkpoint.exists():
                state, self.history = load_checkpoint(self.checkpoint, self.model, self.optimizer,
                                                      settings, layers_with_rng(self.model))
                self.log(f"resumed from {self.checkpoint} at epoch {state.epoch + 1}, "
                         f"step {state.step}")
            state, self.history = self.steps.share(state, self.history, self.model,
                                                   self.optimizer, layers_with_rng(self.model))
            with DeferredInterrupt(self.steps.signals) as interrupt:
                while state.epoch < epochs and not stops_early(self.history, self.early_stopping):
                    self._run_epoch(state, settings, x, t, evaluated, interrupt)
            if stops_early(self.history, self.early_stopping) and state.epoch < epochs:
                self.log(f"stopped early after epoch {state.epoch}: the validation accuracy "
                         f"has not improved for {self.early_stopping} epochs")
            if self.keep_best and state.best is not None:
                self.model.load_state_dict(state.best, source="the best epoch's weights")
                best = self.history[best_epoch(self.history) - 1]
                self.log(f"kept the weights of epoch {best['epoch']} (validation accuracy "
                         f"{best['val_acc']:.4f})")
        return self.history

    def _check_memory(self, data_shape: tuple) -> None:
        """Refuse, in every process of the job together, a step that would not fit in the
        memory of one of them (a step's share of the batch is what each process holds)."""
        local_batch = len(self.steps.shard(np.arange(min(self.batch_size, data_shape[0]))))
        try:
            check_training_memory(self.model, self.optimizer, data_shape[1:], max(local_batch, 1))
            shortage = None
        except NotEnoughMemory as error:
            shortage = error
        if self.steps.agree(shortage is not None):
            raise shortage or JobRefused(
                f"another process of the job has too little memory for one training step at "
                f"batch_size={self.batch_size}; its message names a batch size that fits")

    def settings(self, n_samples: int) -> RunSettings:
        """The settings of a run of this Trainer over ``n_samples`` training samples (after a
        validation fraction is held out): what a checkpoint records and a resume must match."""
        validation = f"a pair of {len(self.validation[0])} samples" \
            if isinstance(self.validation, tuple) else self.validation
        return RunSettings(n_samples, self.batch_size, self.seed,
                           None if self.augment is None else repr(self.augment), validation,
                           self.keep_best, self.early_stopping)

    def save_history(self, path: Union[str, os.PathLike]) -> None:
        """Write the history as JSON, atomically (the old file or the new one, never half)."""
        atomic_write_text(path, json.dumps(self.history, indent=2) + "\n")

    def _sample(self, n_samples: int) -> np.ndarray:
        """The fixed training samples the training accuracy is measured on."""
        if self.train_sample >= n_samples:
            return np.arange(n_samples)
        return np.sort(stream(self.seed, Stream.SAMPLE).choice(n_samples, self.train_sample,
                                                                replace=False))

    def _run_epoch(self, state: RunState, settings: RunSettings, x, t, evaluated: dict,
                   interrupt: DeferredInterrupt) -> None:
        """One epoch from ``state``'s position; then the evaluation of the ``evaluated`` pairs
        (``val``, ``test``: ``(x, t)`` or None), the best weights, the checkpoint, the report."""
        epoch = state.epoch
        if self.lr_schedule is not None:
            self.optimizer.lr = float(self.lr_schedule(epoch))
        if state.order is None:
            state.order = state.rng.permutation(state.n_samples)
        steps = math.ceil(state.n_samples / self.batch_size)
        started = time.perf_counter() - state.seconds
        with ProgressBar(steps, f"epoch {epoch + 1}", enabled=self.progress) as bar:
            bar.update(state.step)
            while state.step < steps:
                batch = state.order[state.step * self.batch_size:(state.step + 1) * self.batch_size]
                mine = self.steps.shard(batch)
                x_batch = x[mine]
                if self.augment is not None and len(mine):
                    x_batch = self.augment(x_batch, state.augment_rng)
                loss, correct, stop, grads = self.steps.gradients(
                    self.model, x_batch, t[mine], len(batch), interrupt)
                if not math.isfinite(loss):
                    raise LossDiverged(loss, epoch + 1, state.step + 1, self.optimizer.lr)
                self.optimizer.update(self.model.named_params(), grads)
                state.loss_sum += loss * len(batch)
                state.correct += correct
                state.seen += len(batch)
                state.step += 1
                bar.update(1, loss=state.loss_sum / state.seen)
                if stop:
                    state.seconds = time.perf_counter() - started
                    self._interrupt(state, settings)
        sample = self._sample(state.n_samples)
        record = {"epoch": epoch + 1, "lr": self.optimizer.lr,
                  "train_loss": state.loss_sum / state.seen,
                  "train_acc": self.steps.evaluate(self.model, x[sample], t[sample])[1],
                  "batch_acc": state.correct / state.seen}
        self.steps.end_of_steps(self.model, self.optimizer)
        for kind, pair in evaluated.items():
            record[f"{kind}_loss"], record[f"{kind}_acc"] = (None, None) if pair is None else \
                self.steps.evaluate(self.model, *pair)
        record["seconds"] = time.perf_counter() - started
        self.steps.annotate(record)
        self.history.append(record)
        if self.keep_best and best_epoch(self.history) == record["epoch"]:
            state.best = {key: array.copy() for key, array in self.model.state_dict().items()}
        state.next_epoch()
        self._save(state, settings)
        self.log(format_epoch(record))
        if self.steps.agree(interrupt.requested):  # Ctrl-C during the evaluation or the checkpoint
            self._interrupt(state, settings)

    def _save(self, state: RunState, settings: RunSettings) -> None:
        """Write the checkpoint, if there is one and this process writes files."""
        if self.checkpoint is not None and self.steps.is_root:
            save_checkpoint(self.checkpoint, self.model, self.optimizer, state, settings,
                            self.history, layers_with_rng(self.model))

    def _interrupt(self, state: RunState, settings: RunSettings) -> None:
        if self.checkpoint is None:
            raise TrainingInterrupted(f"training interrupted at {state.where()}; no checkpoint "
                                      f"path was given, so nothing was saved", None)
        self._save(state, settings)
        raise TrainingInterrupted(f"training interrupted at {state.where()}; checkpoint saved to "
                                  f"{self.checkpoint}; resume to continue", self.checkpoint)
