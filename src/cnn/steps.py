"""How a training step and an evaluation run: in this process alone (:class:`LocalSteps`), or
data-parallel over the ranks of an MPI job (:class:`cnn.distributed.DistributedSteps`). Both
have the same methods, so the Trainer's loop calls one of them and never asks which."""

from __future__ import annotations

import signal
from typing import Mapping

import numpy as np

from cnn.metrics import correct_predictions
from cnn.run_state import RunSettings, RunState

__all__ = ["LocalSteps"]


class LocalSteps:
    """Every step and evaluation in this process."""

    #: Whether this process logs and writes files.
    is_root = True
    #: The signals that end a run cleanly (after the current step).
    signals: tuple[int, ...] = (signal.SIGINT,)

    def check_setup(self, model, optimizer, settings: RunSettings, sample_shape: tuple,
                    epochs: int) -> None:
        """Refuse a setup the processes of a job would not share (nothing to compare here)."""

    def share(self, state: RunState, history: list, model, optimizer,
              layers_with_rng: list) -> tuple[RunState, list]:
        """The state every process starts from: this one's."""
        return state, history

    def shard(self, batch: np.ndarray) -> np.ndarray:
        """The indices of a global batch this process computes: all of them."""
        return batch

    def gradients(self, model, x_mine: np.ndarray, t_mine: np.ndarray, batch_size: int,
                  interrupt) -> tuple[float, int, bool, Mapping[str, np.ndarray]]:
        """One step's forward and backward pass on checked samples: ``(loss, correct, stop,
        grads)`` of the whole batch, the gradients by parameter name; ``stop`` says whether
        ``interrupt`` (a :class:`~cnn.run_report.DeferredInterrupt`) was requested by the end
        of the step."""
        loss, scores = model.train_step(x_mine, t_mine, checked=True)
        return loss, correct_predictions(scores, t_mine), interrupt.requested, model.named_grads()

    def evaluate(self, model, x: np.ndarray, t: np.ndarray) -> tuple[float, float]:
        """``(loss, accuracy)`` of checked samples."""
        return model.evaluate(x, t, checked=True)

    def end_of_steps(self, model, optimizer) -> None:
        """After an epoch's steps and the training accuracy, before the validation and test
        sets: nothing to make agree here."""

    def annotate(self, record: dict) -> None:
        """Add to an epoch's record what only this kind of run knows: nothing here."""

    def agree(self, stop: bool) -> bool:
        """Whether to stop, as every process of the job decides together: this one's word."""
        return stop
